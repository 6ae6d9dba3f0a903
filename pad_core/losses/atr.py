"""ATR-FAS auxiliary loss terms, unweighted (METHODS.md §5(c)); ``loss.depth_w`` / ``loss.gate_w`` weigh them.

Legend: b samples, n frames, k depth bins, s depth side, m experts (gate outputs).
Both are per-pixel / per-frame means over equal-sized shards, so under DDP they stay per rank (the mean of the
ranks' means is the global-batch mean); only batch-level losses need the gather in ``composite``.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from pad_core.models.atr.model import ATROut


def depth_loss(depth_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_d: per-pixel cross-entropy over the k bins of every frame's logits (b n k s s) against one target map
    per sample (b s s bin indices), replicated over the n frames.

    Standard log-softmax CE; the released code takes log(softmax + 1e-5), a numerical guard we do not copy.
    """
    b, n = depth_logits.shape[:2]
    frames_target = target[:, None].expand(b, n, *target.shape[1:])
    return F.cross_entropy(depth_logits.flatten(0, 1).float(), frames_target.flatten(0, 1))


def type_targets(attack_index: torch.Tensor, experts: int) -> torch.Tensor:
    """b -> b m: one-hot over {print, replay, 3D} for attacks, uniform 1/m for bona fide (index -1), as the
    ATR-FAS paper states (METHODS.md §5(c))."""
    onehot = F.one_hot(attack_index.clamp_min(0), experts).float()  # raises if an index is >= m
    return torch.where(attack_index[:, None] < 0, torch.full_like(onehot, 1.0 / experts), onehot)


def gate_loss(gate_logits: torch.Tensor, attack_index: torch.Tensor) -> torch.Tensor:
    """L_g: cross-entropy between softmax(g) and the type target, per frame (the code gates per frame, so the
    target is replicated over the n frames; METHODS.md §5(c))."""
    b, n, m = gate_logits.shape
    target = type_targets(attack_index, m)[:, None].expand(b, n, m)
    return F.cross_entropy(gate_logits.flatten(0, 1).float(), target.flatten(0, 1))


def atr_terms(out: ATROut, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """{"depth": L_d, "gate": L_g}; "gate" only when the model has a type gate (mix == "gate").

    ``targets``: ``depth`` long b s s (bin indices), ``attack_index`` long b (0 print, 1 replay, 2 mask3d,
    -1 bona fide).
    """
    terms = {"depth": depth_loss(out.depth_logits, targets["depth"])}
    if out.gate_logits is not None:
        terms["gate"] = gate_loss(out.gate_logits, targets["attack_index"])
    return terms
