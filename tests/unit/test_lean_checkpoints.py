"""Lean, asynchronous checkpoints without Ray: the report hook's ordering (MLflow only after the checkpoint holding a
report is persisted), the checkpoint cadence and best-file policy of the loop, a GPU trial without CUDA, and the
--keep-checkpoints flag reaching the trial plan."""

import os
import shutil

import pytest
import torch

from pad_core.config import from_flat, scale_overrides
from pad_core.engine import RunContext, checkpoint, train
from pad_core.engine.checkpoint import BEST_FILE, STATE_FILE
from pad_core.integrations import train_worker
from pad_core.integrations.cli import build_parser, options
from pad_core.integrations.options import LoopConfig
from pad_core.integrations.sweep import plans
from pad_core.integrations.trial import is_deterministic_stop
from pad_core.models.variants import VARIANTS


class FakeLogger:
    events: list = []

    def __init__(self, *args, **kwargs) -> None:
        self.pending: list[int] = []

    def enqueue(self, metrics, step, tags=None) -> None:
        self.pending.append(step)

    def spill(self, folder: str) -> None:
        self.events.append(("spill", list(self.pending)))

    def artifact(self, path: str) -> None:
        pass

    def flush(self) -> bool:
        self.events.append(("mlflow", list(self.pending)))
        self.pending.clear()
        return True


def _folder(tmp_path, step: int) -> str:
    path = tmp_path / f"ckpt-{step:07d}"
    path.mkdir()
    (path / STATE_FILE).write_bytes(b"state")
    return str(path)


def test_a_report_reaches_mlflow_only_after_its_checkpoint_is_persisted(tmp_path, monkeypatch):
    monkeypatch.setattr(train_worker, "RunLogger", FakeLogger)
    events = FakeLogger.events = []
    config = LoopConfig(flat={}, tracking_uri="", run_id="", storage_path="", sweep="", key="",
                        tracking_outage_s=1.0)
    report = train_worker.make_hooks(
        config, 0, ray_report=lambda metrics: events.append(("tune", int(metrics["step"]))),
        persist=lambda folder, step: (events.append(("upload", step, os.path.exists(folder))), shutil.rmtree(folder)),
        settle=lambda: events.append(("persisted",))).report
    first = _folder(tmp_path, 3)
    report(metrics={"step": 3.0}, checkpoint_dir=first)
    assert not os.path.exists(first)  # moved out of the engine's scratch: the upload owns it
    report(metrics={"step": 6.0})  # train.checkpoint_minutes skipped this checkpoint
    report(metrics={"step": 9.0}, checkpoint_dir=_folder(tmp_path, 9))
    report(metrics={"step": 9.0, "final": 1.0})
    assert events == [("spill", [3]), ("upload", 3, True), ("tune", 3),
                      ("persisted",), ("mlflow", [3]), ("tune", 6),  # step 6 is in no checkpoint yet: held back
                      ("spill", [6, 9]), ("upload", 9, True), ("tune", 9),
                      ("persisted",), ("mlflow", [6, 9]), ("mlflow", [9]), ("tune", 9)]


def test_a_gpu_trial_without_cuda_fails_clearly_and_is_not_retried(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert train_worker.pick_device(0) == "cpu"
    with pytest.raises(train_worker.GpuUnavailable) as caught:
        train_worker.pick_device(1, "gpu-node-7")
    text = str(caught.value)
    assert text.startswith("--gpus-per-trial=1: this trial holds a GPU but torch.cuda.is_available() is False on "
                           f"node gpu-node-7 (torch {torch.__version__}, CUDA {torch.version.cuda}). Fix: ")
    assert is_deterministic_stop(caught.value)
    assert is_deterministic_stop(RuntimeError(f"Worker failed:\nGpuUnavailable: {text}"))  # as Ray Train wraps it


def smoke(**extra):
    return from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 9, "train.eval_every": 3,
                      **extra})


def test_checkpoint_cadence_by_wall_time_and_best_file_only_on_improvement(tmp_path):
    saved = []

    def keep(*, metrics, checkpoint_dir=None, tags=None):
        if checkpoint_dir:  # what an uploader would see: which files, and whether the best weights were among them
            saved.append((int(metrics["step"]), sorted(os.listdir(checkpoint_dir))))
        else:
            saved.append((int(metrics["step"]), None))

    train(smoke(**{"train.checkpoint_minutes": 60.0}), RunContext(report=keep, workdir=str(tmp_path / "a")))
    assert [s for s, files in saved if files] == [9]  # an hour never passed: only the last step's checkpoint
    saved.clear()
    train(smoke(), RunContext(report=keep, workdir=str(tmp_path / "b")))
    with_files = [(s, files) for s, files in saved if files]
    assert [s for s, _ in with_files] == [3, 6, 9]
    assert BEST_FILE in with_files[0][1]  # the first evaluation is always an improvement
    assert all(STATE_FILE in files for _, files in with_files)


def test_a_run_holds_one_staged_checkpoint_at_a_time(tmp_path, monkeypatch):
    """The previous checkpoint is persisted (its staged folder gone) before the next one is written: a node holds
    one staged copy per run (~6 GB at paper scale), not one uploading and one being written."""
    monkeypatch.setattr(train_worker, "RunLogger", FakeLogger)
    FakeLogger.events, events, uploading = [], [], []
    config = LoopConfig(flat={}, tracking_uri="", run_id="", storage_path="", sweep="", key="",
                        tracking_outage_s=1.0)

    def upload_ends() -> None:  # a slow upload finishing only when asked to settle
        while uploading:
            shutil.rmtree(uploading.pop())
        events.append("persisted")

    hooks = train_worker.make_hooks(config, 0, ray_report=lambda metrics: None, settle=upload_ends,
                                    persist=lambda folder, step: (uploading.append(folder), events.append("upload")))
    save = checkpoint.save

    def write(*args, **kwargs):
        events.append(f"write, {len(uploading)} staged")
        return save(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save", write)
    train(smoke(), RunContext(report=hooks.report, settle=hooks.settle, workdir=str(tmp_path / "work")))
    assert events == ["write, 0 staged", "upload", "persisted", "write, 0 staged", "upload", "persisted",
                      "write, 0 staged", "upload", "persisted"]


def test_keep_checkpoints_flag_reaches_the_trial_plan(monkeypatch):
    from pad_core.ablation import AblationSpec, Row
    from pad_core.integrations.sweep_checks import data_key

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    spec = AblationSpec("sweep", "t", (Row("clip", "CLIP", {}),), ("P1",), (0,), base=scale_overrides("smoke"))
    cells = spec.cells()
    versions = {data_key(c.cfg.data): "sha" for c in cells}
    for argv, expected in (([], False), (["--keep-checkpoints"], True)):
        opts = options(build_parser("x").parse_args(argv))
        assert opts.keep_checkpoints is expected
        made = plans(spec, cells, opts, "parent", "ablation", versions)
        assert len(made) == 1 and made[0].keep_checkpoints is expected and made[0].data_version == "sha"
