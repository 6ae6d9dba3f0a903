"""Metric losses that replace DM+CDM in MoAE-CR's Table 2, on L2-normalised features.

Legend: n batch; s = f f^T cosine similarities; positives share the anchor's label, negatives do not.
Anchors without a positive (or without a negative) are left out of the mean.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pad_core.registry import Registry

METRIC_LOSSES: Registry = Registry("metric loss")


def _pairs(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = y[:, None] == y[None, :]
    eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
    return same & ~eye, ~same  # positives, negatives (n n)


@METRIC_LOSSES.register("supcon")
def supcon(f: torch.Tensor, y: torch.Tensor, *, temperature: float, margin: float) -> torch.Tensor:
    """Supervised contrastive (Khosla et al.): -mean_p log softmax over all other samples."""
    f = F.normalize(f, dim=-1)
    pos, _ = _pairs(y)
    logits = (f @ f.T / temperature).masked_fill(torch.eye(len(y), dtype=torch.bool, device=f.device), -1e9)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    has = pos.any(dim=1)
    per_anchor = -(log_prob * pos).sum(dim=1)[has] / pos.sum(dim=1)[has]
    return per_anchor.mean()


@METRIC_LOSSES.register("npair")
def npair(f: torch.Tensor, y: torch.Tensor, *, temperature: float, margin: float) -> torch.Tensor:
    """N-pair (Sohn): mean over positive pairs of log(1 + sum_neg exp(s_an - s_ap))."""
    f = F.normalize(f, dim=-1)
    s = f @ f.T
    pos, neg = _pairs(y)
    gaps = s[:, None, :] - s[:, :, None]  # [a, p, n] = s_an - s_ap
    terms = torch.log1p((gaps.exp() * neg[:, None, :]).sum(dim=-1))  # a p
    valid = pos & neg.any(dim=1, keepdim=True)
    return terms[valid].mean()


@METRIC_LOSSES.register("triplet")
def triplet(f: torch.Tensor, y: torch.Tensor, *, temperature: float, margin: float) -> torch.Tensor:
    """Batch-all triplet loss on cosine distance: mean over valid (a, p, n) of relu(d_ap - d_an + m)."""
    d = 1 - F.normalize(f, dim=-1) @ F.normalize(f, dim=-1).T
    pos, neg = _pairs(y)
    losses = torch.relu(d[:, :, None] - d[:, None, :] + margin)  # [a, p, n]
    valid = pos[:, :, None] & neg[:, None, :]
    return losses[valid].mean()


@METRIC_LOSSES.register("hard_triplet")
def hard_triplet(f: torch.Tensor, y: torch.Tensor, *, temperature: float, margin: float) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al.): hardest positive and hardest negative per anchor."""
    d = 1 - F.normalize(f, dim=-1) @ F.normalize(f, dim=-1).T
    pos, neg = _pairs(y)
    hardest_pos = (d * pos).amax(dim=1)
    hardest_neg = d.masked_fill(~neg, float("inf")).amin(dim=1)
    valid = pos.any(dim=1) & neg.any(dim=1)
    return torch.relu(hardest_pos - hardest_neg + margin)[valid].mean()
