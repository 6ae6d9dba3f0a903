"""The precision policy: bf16 autocast on CPU as on CUDA, fp32 routers, evaluation in inference mode."""

import numpy as np
import pytest
import torch

from pad_core.config import from_flat, scale_overrides
from pad_core.engine import RunContext, TrainingRun, precision
from pad_core.errors import ConfigError
from pad_core.models.variants import VARIANTS

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bf16_autocasts_on_cpu_and_fp32_does_not():
    with precision.autocast("cpu", "bf16"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with precision.autocast("cpu", "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ConfigError, match="train.precision='fp8'"):
        precision.autocast("cpu", "fp8")


def test_tf32_is_enabled_on_cuda_only():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    assert precision.enable_tf32("cpu") is False
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_evaluation_is_inference_mode_under_the_training_autocast():
    with precision.evaluation("cpu", "bf16"):
        assert torch.is_inference_mode_enabled() and torch.is_autocast_enabled("cpu")
        y = torch.nn.Linear(4, 4)(torch.ones(1, 4))
    assert y.dtype == torch.bfloat16 and y.is_inference()


def record_dtypes(module: torch.nn.Module, name: str, seen: list) -> None:
    def hook(_module, _inputs, output):
        seen.append((name, output.dtype, torch.is_inference_mode_enabled()))

    module.register_forward_hook(hook)


def test_bf16_run_trains_and_scores_experts_in_bf16_with_an_fp32_router(tmp_path):
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("sue"), "train.precision": "bf16",
                     "moe.layers": (1,), "train.steps": 1, "train.eval_every": 1, "data.batch_size": 8})
    run = TrainingRun(cfg, RunContext(workdir=str(tmp_path)))
    sue = run.model.clip.visual.transformer.resblocks[1].mlp.moe
    seen: list = []
    record_dtypes(sue.experts, "experts", seen)
    record_dtypes(sue.gate, "gate", seen)
    metrics = run.fit()  # one training step, then the dev evaluation and the final dev + test scoring
    assert all(np.isfinite(v) for v in metrics.values())
    assert all(p.dtype == torch.float32 for p in run.model.parameters())  # autocast keeps fp32 master weights
    # training (grad mode) and evaluation (inference mode): experts in bf16, the router's gate in fp32
    assert set(seen) == {(name, dtype, inference) for name, dtype in (("experts", torch.bfloat16),
                                                                      ("gate", torch.float32))
                         for inference in (False, True)}

    scores, routing = run.scores("dev")
    assert scores.scores.dtype == np.float64 and np.isfinite(scores.scores).all()
    assert ((scores.scores >= 0) & (scores.scores <= 1)).all()
    assert routing and all(v.dtype == np.float64 and np.isfinite(v).all() for v in routing.values())
