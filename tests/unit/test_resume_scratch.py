"""A resumed attempt's local copies (the downloaded checkpoint, best weights fetched from an earlier checkpoint) are
read while the run is built and gone before it trains: at paper scale they are ~6 GB and ~1.5 GB per run."""

import json
import os
from types import SimpleNamespace

import pyarrow.fs
import ray.train

from pad_core.engine.checkpoint import BEST_FILE, META_FILE
from pad_core.integrations import train_worker


class FakeRun:
    """Stands in for TrainingRun: records which of its context's files exist when built and when fitted."""

    seen: list = []

    def __init__(self, cfg, ctx) -> None:
        self.ctx = ctx
        self.seen.append(("built", os.path.exists(ctx.best_file), os.path.exists(ctx.resume_dir)))

    def fit(self) -> None:
        self.seen.append(("fit", os.path.exists(self.ctx.best_file), os.path.exists(self.ctx.resume_dir)))


def _storage(root: str) -> SimpleNamespace:
    return SimpleNamespace(storage_filesystem=pyarrow.fs.LocalFileSystem(),
                           build_checkpoint_path_from_name=lambda name: os.path.join(root, name))


def test_best_weights_fetched_for_a_ray_train_resume_are_removed_before_training(tmp_path, monkeypatch):
    temp = tmp_path / "temp"  # a temp folder of its own: nothing else writes there meanwhile
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    storage = tmp_path / "storage"
    (storage / "ckpt-0000003").mkdir(parents=True)
    (storage / "ckpt-0000003" / BEST_FILE).write_bytes(b"best weights")
    resume = tmp_path / "ckpt-0000006"
    resume.mkdir()
    (resume / META_FILE).write_text(json.dumps({"step": 6, "best_step": 3, "world_size": 1}))
    context = SimpleNamespace(get_storage=lambda: _storage(str(storage)))
    monkeypatch.setattr(train_worker.ray.train, "get_context", lambda: context)
    monkeypatch.setattr(train_worker, "TrainingRun", FakeRun)
    FakeRun.seen = []
    train_worker._fit(None, ray.train.Checkpoint.from_directory(str(resume)), None)
    assert FakeRun.seen == [("built", True, True), ("fit", False, True)]
    assert os.listdir(temp) == []
