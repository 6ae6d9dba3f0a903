"""The precision policy: which autocast a training step and an evaluation pass run under.

``train.precision=bf16`` means bf16 autocast on CUDA *and* on CPU: a CPU run rehearses exactly the casts a GPU
run makes (the same ops in bf16, the same fp32 router regions), so dtype bugs show up in CPU tests instead of on
the cluster. ``fp32`` means no autocast. On CUDA, fp32 matmuls and convolutions outside autocast (and the ops
autocast keeps in fp32) may use TF32 (:func:`enable_tf32`); the MoE routers switch it off again for their own
forward (``pad_core/models/moe/fp32.py``). Evaluation runs under the same autocast as training, inside
``torch.inference_mode()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager

import torch

from pad_core.errors import ConfigError

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16}  # train.precision -> autocast dtype (None = off)
AUTOCAST_DEVICES = ("cuda", "cpu")  # device types whose bf16 autocast the policy uses


def _device_type(device: torch.device | str) -> str:
    return torch.device(device).type


def autocast_dtype(precision: str) -> torch.dtype | None:
    if precision not in AUTOCAST_DTYPES:
        raise ConfigError("train.precision", precision, "unknown precision", f"use one of {sorted(AUTOCAST_DTYPES)}")
    return AUTOCAST_DTYPES[precision]


def autocast(device: torch.device | str, precision: str) -> AbstractContextManager:
    """The autocast context of a forward pass (and its loss) on ``device`` at ``precision``."""
    dtype, kind = autocast_dtype(precision), _device_type(device)
    if dtype is None:
        return contextlib.nullcontext()
    if kind not in AUTOCAST_DEVICES:
        raise ConfigError("train.precision", precision, f"no bf16 autocast policy for device type {kind!r}",
                          "use train.precision=fp32 on this device, or train on cuda or cpu")
    return torch.autocast(kind, dtype=dtype)


def enable_tf32(device: torch.device | str) -> bool:
    """Let fp32 matmuls and cuDNN convolutions use TF32 when training on CUDA (Ampere and later: ~8x the fp32
    throughput, 10 mantissa bits, still more than bf16's 8). Returns whether it did; a no-op on CPU."""
    if _device_type(device) != "cuda":
        return False
    torch.backends.cuda.matmul.allow_tf32 = True  # the same switch as set_float32_matmul_precision("high")
    torch.backends.cudnn.allow_tf32 = True
    return True


@contextlib.contextmanager
def evaluation(device: torch.device | str, precision: str) -> Iterator[None]:
    """Inference mode under the training autocast: scores come from the same numerics the model trained with.

    Outputs are inference tensors (possibly bf16): convert with ``.float()`` before ``.numpy()``.
    """
    with torch.inference_mode(), autocast(device, precision):
        yield
