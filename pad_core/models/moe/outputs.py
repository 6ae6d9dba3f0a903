"""What an MoE layer returns: the output, its loss terms (unweighted) and its routing statistics."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class MoEOut:
    """``x`` b n d; ``aux`` loss terms (weights live in LossCfg); ``stats`` detached diagnostics."""

    x: torch.Tensor
    aux: dict[str, torch.Tensor] = field(default_factory=dict)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)
