"""Seeding: one seed for init, masks and sampling, offset per rank where ranks must differ."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int, rank: int = 0) -> None:
    random.seed(seed + rank)
    np.random.seed((seed + rank) % 2**32)
    torch.manual_seed(seed)  # same on every rank: identical initial weights, no broadcast needed


def seed_rank_streams(seed: int, rank: int) -> None:
    """After init: ranks draw different masks and dropout."""
    torch.manual_seed(seed * 1000 + rank)


def rng_state(device: torch.device | str = "cpu") -> dict[str, Any]:
    """This process's RNG streams: torch CPU (MoE masks, dropout), the device's CUDA stream, python, numpy."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "numpy": np.random.get_state()}
    device = torch.device(device)
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, Any], device: torch.device | str = "cpu") -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    device = torch.device(device)
    if device.type == "cuda" and "cuda" in state:  # a CPU checkpoint resumed on a GPU keeps the fresh CUDA seed
        torch.cuda.set_rng_state(state["cuda"], device)


def reseed_resumed(seed: int, rank: int, step: int) -> None:
    """Deterministic streams for a rank the checkpoint has no state for (another world size, an old checkpoint):
    distinct per rank and per resume step, so ranks still draw different masks."""
    mixed = (seed * 1_000_003 + step) * 1000 + rank
    random.seed(mixed)
    np.random.seed(mixed % 2**32)
    torch.manual_seed(mixed)
