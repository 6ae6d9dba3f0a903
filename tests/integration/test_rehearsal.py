"""The paper path, rehearsed on the CPU: ViT-B/16 at the papers' shapes and optimiser, bf16 autocast with fp32
routers, forked loader workers, weights from a local file in open_clip's format, data and checkpoints on a real
S3 server, one paper table end to end (table included) in the Tune trial, and one SUEDE cell as 2-worker DDP
(gloo) through Ray Train. Only the steps (2) and the images read (2 per subset/split/label/species) are shrunk.
"""

import shutil

import pytest
import s3fs
import torch
from mlflow.tracking import MlflowClient

from pad_core.integrations import services
from pad_core.integrations.services.base import environ
from pad_core.rehearsal import weights_file
from tests.integration.conftest import run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
KEY, SECRET = "padsweep-rehearsal", "rehearsal-secret-key"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    root = tmp_path_factory.mktemp("rehearsal-s3")
    svc = services.start_seaweedfs(root, KEY, SECRET, buckets=("padsweep",))
    # fsspec hands back a cached S3FileSystem whatever the environment says now: an earlier test's instance would
    # talk to that test's (stopped) server
    s3fs.S3FileSystem.clear_instance_cache()
    with services.vacuuming(svc):  # each checkpoint the cells replace or delete is ~6 GB of this machine's disk
        yield services.s3_env(svc, KEY, SECRET)
    services.stop(svc)
    s3fs.S3FileSystem.clear_instance_cache()
    shutil.rmtree(root / "s3-data")  # ViT-B/16 checkpoints: gigabytes the rest of the session does not need


def _children(mlflow_uri: str, sweep: str) -> list:
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("padsweep")
    runs = client.search_runs([exp.experiment_id], f"tags.`pad.sweep` = '{sweep}'")
    return [r for r in runs if r.data.tags.get("pad.kind") != "sweep-parent"]


def _check_paper_path(run) -> None:
    params, tags = run.data.params, run.data.tags
    assert tags["pad.outcome"] == "completed", tags.get("pad.reason")
    assert params["backbone.name"] == "ViT-B-16-quickgelu"
    assert params["train.precision"] == "bf16" and params["optim.lr"] == "1e-06" and params["data.batch_size"] == "32"
    assert params["data.manifest"].startswith("s3://padsweep/ray/rehearsal-data/")
    assert params["backbone.pretrained"] == weights_file("ViT-B-16-quickgelu")
    assert int(params["data.num_workers"]) >= 1  # forked loader workers, as at paper scale
    assert run.data.metrics["final"] == 1.0 and 0.0 <= run.data.metrics["test/p1/acer"] <= 1.0
    assert len([k for k in run.data.metrics if k.startswith("train/")]) > 0


def test_weights_file_is_an_open_clip_state_dict_that_loads_exactly(tmp_path, monkeypatch):
    """The generated file has the format of open_clip's released weights and loads through --pretrained PATH."""
    import open_clip

    from pad_core.config import from_flat
    from pad_core.models import create_model

    monkeypatch.setenv("PADSWEEP_CACHE", str(tmp_path))
    path = weights_file("pad-tiny-vit")
    assert path == weights_file("pad-tiny-vit")  # cached: written once
    state = torch.load(path, map_location="cpu", weights_only=True)
    reference = open_clip.create_model("pad-tiny-vit", pretrained=None).state_dict()
    assert set(state) == set(reference) and all(state[k].shape == reference[k].shape for k in state)
    model = create_model(from_flat({"backbone.name": "pad-tiny-vit", "backbone.pretrained": path,
                                    "moe.kind": "none"}))
    loaded = {k.removeprefix("clip."): v for k, v in model.state_dict().items()}
    same = [k for k in state if k in loaded and torch.equal(loaded[k], state[k])]
    assert len(same) == len(state), f"{len(state) - len(same)} tensors differ from the weights file"


def test_mask_rates_rehearsal_in_trial_end_to_end(stack, s3):
    env = {**stack, "env": {**stack["env"], **s3}}
    # one trial at a time with both cores: a ViT-B/16 MMoE trainer at batch 32 holds ~13 GB on the CPU
    args = ("--scale", "rehearsal", "--smoke-test", "--storage", "s3://padsweep/ray", "--max-concurrent", "1",
            "--cpus-per-worker", "2")
    out = run_sweep(env, "mask_rates.py", *args, timeout=1500).stdout
    assert "rehearsal data:" in out and "Rate 1" in out and "vanilla" in out.lower()
    with environ(s3):
        children = _children(stack["mlflow"], "mask_rates-rehearsal-smoke")
        fs = s3fs.S3FileSystem()
        leftovers = [p for p in fs.find("padsweep/ray/mask_rates-rehearsal-smoke") if "/cells/" in p]
    assert len(children) == 2
    for run in children:
        _check_paper_path(run)
    assert not leftovers, f"a finished cell's checkpoints must be deleted: {leftovers[:3]}"


def test_rehearsal_as_two_worker_ddp(stack, s3):
    """A Ray Train (TorchTrainer) cell with 2 gloo workers: the symmetric CLIP loss over the global batch, bf16,
    asynchronous checkpoint upload to S3, every rank's RNG in the checkpoint, the Train run's checkpoints deleted
    once the cell finished."""
    env = {**stack, "env": {**stack["env"], **s3}}
    args = ("--rows", "tests.integration.rehearsal_rows:DDP_ROWS", "--base", "search_spaces.suede:SUEDE_BASE",
            "--scale", "rehearsal", "--seeds", "0", "--workers-per-trial", "2", "--storage", "s3://padsweep/ray",
            "--sweep-name", "rehearsal-ddp")
    run_sweep(env, "rows.py", *args, timeout=1500)
    with environ(s3):
        children = _children(stack["mlflow"], "rehearsal-ddp")
        fs = s3fs.S3FileSystem()
        train_runs = [p for p in fs.ls("padsweep/ray") if p.startswith("padsweep/ray/rehearsal-ddp--")]
        left = [f for run in train_runs for f in fs.find(run) if f != run]  # SeaweedFS lists a folder as itself
    assert len(children) == 1
    _check_paper_path(children[0])
    assert children[0].data.params["head.loss"] == "clip_symmetric"
    assert train_runs, "the cell must have run as a Ray Train run (its folder is named after the cell)"
    assert not left, f"a finished cell's Train checkpoints must be deleted: {left[:3]}"
