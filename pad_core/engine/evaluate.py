"""Scoring a split: each rank scores its own shard (no padding duplicates), then ranks exchange scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Subset

from pad_core.data.dataset import ManifestImages, to_device
from pad_core.metrics.thresholds import ScoreSet


def _gather(values: list) -> list:
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, values)
    return [v for part in parts for v in part]


@torch.no_grad()
def score_rows(model, dataset: ManifestImages, *, batch_size: int, device, rank: int = 0, world: int = 1,
               num_workers: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """P(live) for every row of ``dataset`` in row order, and per visual MoE layer the per-row expert shares
    (``N x E``); the same on every rank."""
    was_training = model.training
    model.eval()
    shard = list(range(rank, len(dataset), world))
    loader = DataLoader(Subset(dataset, shard), batch_size=batch_size, num_workers=num_workers,
                        generator=torch.Generator())  # leaves the global RNG (MoE masks) untouched
    rows = []
    for inputs, _, idx in loader:
        out = model(to_device(inputs, device))
        routing = {k: v.float().cpu().numpy() for k, v in out.routing.items()}
        rows += [(i, s, {k: v[j] for k, v in routing.items()})
                 for j, (i, s) in enumerate(zip(idx.tolist(), out.live_score.cpu().tolist()))]
    model.train(was_training)
    return _assemble(_gather(rows), len(dataset))


def _assemble(rows: list, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    scores, routing = np.empty(n), {}
    for i, s, shares in rows:
        scores[i] = s
        for layer, v in shares.items():
            routing.setdefault(layer, np.zeros((n, len(v))))[i] = v
    return scores, routing


def score_set(split: str, frame: pd.DataFrame, scores: np.ndarray) -> ScoreSet:
    return ScoreSet(split, scores, frame["label"].to_numpy(), frame["attack_type"].to_numpy())
