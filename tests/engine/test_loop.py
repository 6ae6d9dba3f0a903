"""The training loop without Ray: metrics keys, exact resume from a checkpoint, explicit stop reasons."""

import numpy as np
import pandas as pd
import pytest
import torch

from pad_core.config import from_flat, scale_overrides
from pad_core.engine import NonFiniteLoss, RunContext, TimeBudgetExceeded, TrainingRun, train
from pad_core.models.variants import VARIANTS


def smoke_cfg(**extra):
    return from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 6, "train.eval_every": 3,
                      **extra})


class Interrupt(Exception):
    pass


def test_final_metrics_and_reports(tmp_path):
    reports, artifacts = [], []

    def record(*, metrics, checkpoint_dir=None, tags=None):  # keyword-only, as pad_core.engine.context.Report
        reports.append((metrics, checkpoint_dir, tags))

    ctx = RunContext(report=record, save_artifact=artifacts.append, workdir=str(tmp_path))
    metrics = train(smoke_cfg(), ctx)
    assert [int(m["step"]) for m, _, _ in reports] == [3, 6, 6]
    assert all(c is not None for _, c, _ in reports[:2]) and reports[-1][1] is None
    assert reports[-1][2] == {"pad.threshold_policy": "test_eer"}  # IrisGeneral's declared policy
    for key in ("test/p1/acer", "test/p1/eer", "test/p1/auc", "test/p1/acc", "dev/p1/selected_eer",
                "test/p1/threshold"):
        assert key in metrics and np.isfinite(metrics[key])
    assert "train/p1/moe_cosine" in reports[0][0] and "dev/p1/eer" in reports[0][0]
    scores = pd.read_csv(artifacts[0])
    assert set(scores["split"]) == {"dev", "test"} and scores["score"].between(0, 1).all()
    # MoE introspection: per-layer load, balance and mutual information at every evaluation and at the end
    assert {"dev/p1/moe_load_entropy", "dev/p1/moe_mi_attack", "dev/p1/moe_mi_device"} <= set(reports[0][0])
    assert "dev/p1/apcer_print" not in reports[0][0] and "test/p1/apcer_print" in metrics  # compact curves, full end
    for layer in range(4):
        assert 0.25 <= metrics[f"test/p1/moe_v{layer}_load_max"] <= 1.0  # 4 experts: the busiest has >= 1/4
        assert {f"test/p1/moe_v{layer}_mi_attack", f"test/p1/moe_v{layer}_mi_device"} <= set(metrics)
    routing = pd.read_csv(artifacts[1])
    assert set(routing["layer"]) == {"v0", "v1", "v2", "v3"} and {"attack_type", "device", "e0"} <= set(routing)
    shares = routing[["e0", "e1", "e2", "e3"]].sum(axis=1)
    assert np.allclose(shares, 1.0)  # per (layer, attack type, device), the expert shares sum to one


def test_resume_from_checkpoint_reproduces_the_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    full = train(smoke_cfg(), RunContext(workdir=str(tmp_path / "a")))
    saved = []

    def stop_after_first(*, metrics, checkpoint_dir=None, tags=None):
        saved.append(checkpoint_dir)
        raise Interrupt

    with pytest.raises(Interrupt):
        train(smoke_cfg(), RunContext(report=stop_after_first, workdir=str(tmp_path / "b")))
    resumed = train(smoke_cfg(), RunContext(resume_dir=saved[0], workdir=str(tmp_path / "c")))
    timing = "train/p1/mean_step_seconds"  # wall time: present in both, equal in neither
    assert resumed.pop(timing) > 0 and full.pop(timing) > 0
    assert resumed == full


def test_nan_loss_stops_with_the_reason():
    with pytest.raises(NonFiniteLoss, match="loss is (nan|inf) at step"):
        TrainingRun(smoke_cfg(**{"optim.lr": 1e30, "optim.name": "sgd"})).fit()


def test_time_budget_stops_the_run():
    with pytest.raises(TimeBudgetExceeded, match="train.max_minutes"):
        TrainingRun(smoke_cfg(**{"train.max_minutes": 1e-9})).fit()


def test_last_selection_and_fixed_threshold():
    metrics = train(smoke_cfg(**{"train.select": "last", "eval.threshold_policy": "fixed"}))
    assert metrics["test/p1/selected_step"] == 6 and metrics["test/p1/threshold"] == 0.5
