"""Selective precision (ST-MoE §3.3, Zoph et al. 2022): routers compute in float32 while experts run in bf16.

A router's softmax turns small logit errors into large weight changes. Under bf16 autocast the logits einsum
rounds its inputs and output to 8 bits of mantissa: at ViT-B/16 shapes SoftMoE dispatch weights move by up to
~0.1, and a top-k gate flips choices. :func:`fp32_region` wraps a router function so that its floating-point
tensor arguments are cast to float32 and it runs with autocast disabled for their device (and, on CUDA, with
TF32 matmuls/convolutions off, because TF32 keeps only 10 mantissa bits). Parameters read inside are the fp32
master weights autocast leaves untouched. Outside autocast the wrapped function computes exactly what it did
without the wrapper. Only the forward runs in the region; the backward of the router follows the global flags.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
from torch import nn

F = TypeVar("F", bound=Callable[..., Any])


def _as_fp32(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dtype != torch.float64:
        return value.float()  # fp64 stays fp64: tests that compare in double keep their precision
    return value


def _device_type(values: tuple[Any, ...]) -> str:
    return next((v.device.type for v in values if isinstance(v, torch.Tensor)), "cpu")


@contextlib.contextmanager
def _no_tf32(device_type: str) -> Iterator[None]:
    if device_type != "cuda":
        yield
        return
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


@contextlib.contextmanager
def fp32_context(device_type: str) -> Iterator[None]:
    """Autocast off for ``device_type`` (and TF32 off on CUDA); callers cast their inputs with ``.float()``."""
    with torch.autocast(device_type, enabled=False), _no_tf32(device_type):
        yield


def fp32_region(fn: F) -> F:
    """Decorator: run ``fn`` in :func:`fp32_context` with its floating tensor arguments cast to float32."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = tuple(_as_fp32(a) for a in args), {k: _as_fp32(v) for k, v in kwargs.items()}
        with fp32_context(_device_type(args + tuple(kwargs.values()))):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class FP32Linear(nn.Linear):
    """nn.Linear computed in float32 under autocast, for the 2-way classifiers: their logits are the PAD score, and
    bf16 logits (8 mantissa bits) quantise P(live) into steps that tie scores and coarsen the EER threshold."""

    forward = fp32_region(nn.Linear.forward)
