"""What an MoE layer returns: the output, its loss terms (unweighted), routing statistics and, per sample,
the share of routing each expert received (for expert-load and attack-type introspection)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class MoEOut:
    """``x`` b n d; ``aux`` loss terms (weights live in LossCfg); ``stats`` detached scalars;
    ``routing`` b e detached per-sample expert shares (rows sum to 1), or None."""

    x: torch.Tensor
    aux: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)
    routing: torch.Tensor | None = None


def combine_stats(combine: torch.Tensor) -> dict[str, torch.Tensor]:
    """Slot-weight statistics of soft combine weights ``b n e s`` (softmax over the e*s slots)."""
    with torch.no_grad():
        flat = combine.flatten(2)
        entropy = -(flat * flat.clamp_min(1e-12).log()).sum(-1).mean()
        return {"combine_entropy": entropy, "slot_weight_max": flat.amax(-1).mean()}


def routing_share(combine: torch.Tensor) -> torch.Tensor:
    """Per-sample share of the combine mass carried by each expert's slots: ``b n e s`` -> ``b e``."""
    with torch.no_grad():
        return combine.sum(dim=-1).mean(dim=1)
