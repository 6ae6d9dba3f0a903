"""MoAE-CR's class regularisation: the Disentanglement Module (DM) and Cluster Distillation Module (CDM).

``literal`` follows the paper's Eqs. 4-14 as printed (METHODS.md §4(a)); with two classes its DM is
identically zero (each row of Q has one off-diagonal entry, which is also the row max, so the log-sum-exp
of the centred values is log 1) and kept only to show that. ``repaired`` (METHODS.md §4(f).4) keeps the
structure with a stable log-sum-exp that adds the max back and a positive sign:
    L_dm* = mean_i [LSE_{j!=i} Q_ij]^2   (= Q_01^2: penalises centre similarity above t)
    L_att* = mean_i [LSE_j R'_ij]^2      (soft max deviation of a sample from its own class centre)
    L_rep* = mean_i (R''_{i, other})^2   (softmax affinity to the other class centre)
Legend: n batch, p feature width, c classes (2).
"""

from __future__ import annotations

import math

import torch


def class_means(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """c p class centres (both classes must be present)."""
    return torch.stack([x[y == c].mean(dim=0) for c in (0, 1)])


def _centre_gaps(mu: torch.Tensor, t: float) -> torch.Tensor:
    """Q = max(R_c (1 - I) - t, 0) with R_c = mu mu^T / sqrt(p), a c x c matrix."""
    r = mu @ mu.T / math.sqrt(mu.shape[1])
    return torch.relu(r * (1 - torch.eye(len(mu), device=mu.device)) - t)


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    keep = ~torch.eye(len(m), dtype=torch.bool, device=m.device)
    return m[keep].view(len(m), len(m) - 1)


def dm_loss(x: torch.Tensor, y: torch.Tensor, t: float, mode: str) -> torch.Tensor:
    q = _centre_gaps(class_means(x, y), t)
    if mode == "literal":  # centred by the row max, which is never added back
        centred = _off_diagonal(q - q.amax(dim=1, keepdim=True))
        return -torch.logsumexp(centred, dim=1).square().mean()
    return torch.logsumexp(_off_diagonal(q), dim=1).square().mean()


def cdm_loss(x: torch.Tensor, y: torch.Tensor, mode: str) -> torch.Tensor:
    mu = class_means(x, y)
    deviation = (x - mu[y]).abs()  # n p, each sample against its own class centre
    affinity = (x @ mu.T).softmax(dim=1)  # n c
    other = affinity.gather(1, (1 - y)[:, None]).squeeze(1)
    if mode == "literal":
        att = -(torch.logsumexp(deviation - deviation.amax(dim=1, keepdim=True), dim=1)).square().mean()
        rep = -(other - affinity.amax(dim=1)).square().mean()
        return att + rep
    return torch.logsumexp(deviation, dim=1).square().mean() + other.square().mean()
