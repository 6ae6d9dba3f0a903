"""How SoftMoE normalises tokens and slot embeddings before the logits (METHODS.md §7.1).

Each norm maps ``(x: b n d, phi: e s d)`` to ``(x_key, phi_key, x_slot)``: logits are
``<x_key, phi_key>`` and slots are built from ``x_slot``. ``moe.soft.norm`` names one; the factory
passes its class to SoftMoE as ``norm_layer`` (pad_core/models/moe_layers.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from pad_core.registry import Registry

ROUTER_NORMS: Registry[type[nn.Module]] = Registry("router norm")


@ROUTER_NORMS.register("none")
class NoNorm(nn.Module):
    """MMoE Algorithm 1 as printed: raw tokens and raw slot embeddings."""

    def __init__(self, dim: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return x, phi, x


@ROUTER_NORMS.register("rms_both")
class RMSBoth(nn.Module):
    """``norm=rms_both`` (was ``lucidrains``, after lucidrains' soft-moe): RMS-normalise both sides to norm
    sqrt(d)*gamma; slots see the normalised tokens."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = math.sqrt(dim)
        self.gamma_x = nn.Parameter(torch.ones(dim))
        self.gamma_phi = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xn = F.normalize(x, dim=-1) * self.scale * self.gamma_x
        phin = F.normalize(phi, dim=-1) * self.scale * self.gamma_phi
        return xn, phin, xn


@ROUTER_NORMS.register("l2_scale")
class L2Scale(nn.Module):
    """``norm=l2_scale`` (was ``puigcerver``, after the Soft MoE paper's first author; vmoe): L2-normalise both
    sides, one learnable scalar (init 1); slots see raw tokens."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # The scalar goes on phi, the smaller tensor; the logits are the same either way.
        return F.normalize(x, dim=-1), self.scale * F.normalize(phi, dim=-1), x
