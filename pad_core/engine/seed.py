"""Seeding: one seed for init, masks and sampling, offset per rank where ranks must differ."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int, rank: int = 0) -> None:
    random.seed(seed + rank)
    np.random.seed((seed + rank) % 2**32)
    torch.manual_seed(seed)  # same on every rank: identical initial weights, no broadcast needed


def seed_rank_streams(seed: int, rank: int) -> None:
    """After init: ranks draw different masks and dropout."""
    torch.manual_seed(seed * 1000 + rank)
