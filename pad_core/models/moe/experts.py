"""Batched FFN experts: every expert runs in one batched GEMM per layer, no Python loop over experts or tokens."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from pad_core.registry import Registry

ACTIVATIONS: Registry[type[nn.Module]] = Registry("expert activation")


@ACTIVATIONS.register("gelu")
class GELU(nn.GELU):
    """Exact GELU (lucidrains soft-moe expert)."""


@ACTIVATIONS.register("quickgelu")
class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x), the activation of OpenAI CLIP's MLPs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class BatchedExperts(nn.Module):
    """e independent FFNs ``Linear(d, h) -> act -> Linear(h, d)`` applied to their own slots.

    Legend: b batch, e experts, s slots (or tokens) per expert, d width, h hidden width.
    Input and output are ``b e s d``. Weights use nn.Linear's default init, U(-1/sqrt(fan_in), ..).
    """

    def __init__(self, dim: int, *, num_experts: int, hidden: int, act_layer: type[nn.Module] = GELU) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(num_experts, dim, hidden))
        self.b1 = nn.Parameter(torch.empty(num_experts, hidden))
        self.w2 = nn.Parameter(torch.empty(num_experts, hidden, dim))
        self.b2 = nn.Parameter(torch.empty(num_experts, dim))
        self.act = act_layer()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w, b, fan_in in ((self.w1, self.b1, self.w1.shape[1]), (self.w2, self.b2, self.w2.shape[1])):
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``b e s d -> b e s d``: per expert, ``e (b s) d @ e d h`` with the bias folded into the GEMM.

        Same maths as ``einsum("b e s d, e d h -> b e s h") + b1``. ``baddbmm`` saves the separate bias passes, and
        the expert-major layout saves a permute between the two GEMMs: 8% of a SoftMoE layer at the tiny size
        and 17% of MoAE's (docs/BENCHMARKS.md §1). The results differ from the einsum form only by float rounding.
        """
        b, e, s, d = x.shape
        rows = x.transpose(0, 1).reshape(e, b * s, d)  # e (b s) d: a view when b == 1 (SUE's dispatch buffer)
        hidden = self.act(torch.baddbmm(self.b1[:, None, :], rows, self.w1))
        return torch.baddbmm(self.b2[:, None, :], hidden, self.w2).view(e, b, s, d).transpose(0, 1)

    def load_linear_pairs(self, pairs: list[tuple[nn.Linear, nn.Linear]]) -> None:
        """Copy weights from per-expert ``(fc1, fc2)`` nn.Linear pairs (cross-checks, upcycling)."""
        with torch.no_grad():
            for i, (fc1, fc2) in enumerate(pairs):
                self.w1[i].copy_(fc1.weight.T)
                self.b1[i].copy_(fc1.bias)
                self.w2[i].copy_(fc2.weight.T)
                self.b2[i].copy_(fc2.bias)


def expert_cosine_distance(y: torch.Tensor, ref: int, *, detach_ref: bool = False) -> torch.Tensor:
    """MMoE Eq.3, batch-averaged: mean_b (1/s) sum_j sum_{i != ref} (1 - cos(y[b, ref, j], y[b, i, j])).

    ``y`` is ``b e s d``; slot j of the reference pairs with slot j of every other expert (literal Eq.3).
    """
    # 1 - cos near 0 has no resolution in bf16 (steps of 2^-8): at least float32, a no-op outside autocast
    y = y.to(torch.promote_types(y.dtype, torch.float32))
    reference = y[:, ref : ref + 1]
    if detach_ref:
        reference = reference.detach()
    others = torch.cat([y[:, :ref], y[:, ref + 1 :]], dim=1)
    cos = F.cosine_similarity(others, reference, dim=-1)  # b (e-1) s
    return (1.0 - cos).sum(dim=1).mean()
