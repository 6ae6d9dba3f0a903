"""Scoring a split: each rank scores its own shard (no padding duplicates), then ranks exchange scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Subset

from pad_core.data.dataset import ManifestImages
from pad_core.metrics.thresholds import ScoreSet


def _gather(values: list) -> list:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, values)
    return [v for part in parts for v in part]


@torch.no_grad()
def score_rows(model, dataset: ManifestImages, *, batch_size: int, device, rank: int = 0, world: int = 1,
               num_workers: int = 0) -> np.ndarray:
    """P(live) for every row of ``dataset``, in row order, on every rank."""
    was_training = model.training
    model.eval()
    shard = list(range(rank, len(dataset), world))
    loader = DataLoader(Subset(dataset, shard), batch_size=batch_size, num_workers=num_workers,
                        generator=torch.Generator())  # leaves the global RNG (MoE masks) untouched
    pairs = []
    for images, _, idx in loader:
        scores = model(images.to(device)).live_score.cpu().numpy()
        pairs.extend(zip(idx.tolist(), scores.tolist()))
    model.train(was_training)
    out = np.empty(len(dataset))
    for i, s in _gather(pairs):
        out[i] = s
    return out


def score_set(split: str, frame: pd.DataFrame, scores: np.ndarray) -> ScoreSet:
    return ScoreSet(split, scores, frame["label"].to_numpy(), frame["attack_type"].to_numpy())
