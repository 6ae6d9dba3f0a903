"""MoAE (MoAE-CR): SoftMoE written as multi-head attention with slots as queries.

METHODS.md §4(a): slot queries Q = Phi W_q, token keys/values K = H W_k, V = H W_v, split into h heads;
per head the dispatch is a softmax over tokens (slots = A^T V), the e experts (shared by all heads,
width d/h) process the slots with heads folded into the batch, the combine is a softmax over the
e*s slots, and the heads are concatenated and projected by W_o.

Legend: b batch, n tokens, d width, h heads, c = d/h head width, e experts, s slots per expert,
z = e*s slots in all.
"""

from __future__ import annotations

import math

import torch
from einops import einsum, rearrange
from torch import nn

from pad_core.models.moe.experts import GELU, BatchedExperts
from pad_core.models.moe.fp32 import fp32_region
from pad_core.models.moe.outputs import MoEOut, combine_stats, routing_share


class IdentityProjection(nn.Identity):
    """Stands in for W_q/W_k/W_v/W_o when the projections are off (the SoftMoE reduction)."""

    def __init__(self, dim_in: int, dim_out: int, bias: bool = True) -> None:
        super().__init__()


class MoAE(nn.Module):
    """``qkv_layer`` / ``out_layer``: nn.Linear (learned W_q, W_k, W_v / W_o) or IdentityProjection."""

    def __init__(self, dim: int, *, num_experts: int = 4, heads: int = 2, slots_per_expert: int = 49,
                 qkv_layer: type[nn.Module] = nn.Linear, out_layer: type[nn.Module] = nn.Linear, scale: bool = True,
                 expert_hidden_mult: float = 4.0, act_layer: type[nn.Module] = GELU) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by heads={heads}")
        self.heads, self.num_experts, self.slots_per_expert = heads, num_experts, slots_per_expert
        self.scale = 1.0 / math.sqrt(dim // heads) if scale else 1.0
        self.phi = nn.Parameter(torch.randn(num_experts * slots_per_expert, dim))
        self.to_q, self.to_k, self.to_v = qkv_layer(dim, dim), qkv_layer(dim, dim), qkv_layer(dim, dim)
        self.to_out = out_layer(dim, dim)
        head_dim = dim // heads
        self.experts = BatchedExperts(head_dim, num_experts=num_experts, hidden=int(head_dim * expert_hidden_mult),
                                      act_layer=act_layer)

    @fp32_region
    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(dispatch, combine), each b h n z, in float32 whatever the autocast: W_q, W_k and the logits feed
        only the two softmaxes, so they are the router (ST-MoE's selective precision); W_v stays in bf16."""
        q = rearrange(self.to_q(self.phi), "z (h c) -> h z c", h=self.heads)
        k = rearrange(self.to_k(x), "b n (h c) -> b h n c", h=self.heads)
        logits = einsum(k, q, "b h n c, h z c -> b h n z") * self.scale
        return logits.softmax(dim=2), logits.softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> MoEOut:
        h, e = self.heads, self.num_experts
        dispatch, combine = self.route(x)
        v = rearrange(self.to_v(x), "b n (h c) -> b h n c", h=h)
        slots = einsum(dispatch, v, "b h n z, b h n c -> b h z c")
        y = self.experts(rearrange(slots, "b h (e s) c -> (b h) e s c", e=e))  # heads folded into the batch
        y = rearrange(y, "(b h) e s c -> b h (e s) c", h=h)
        out = rearrange(einsum(combine, y, "b h n z, b h z c -> b h n c"), "b h n c -> b n (h c)")
        per_expert = rearrange(combine, "b h n (e s) -> b (h n) e s", e=e)
        return MoEOut(self.to_out(out), stats=combine_stats(per_expert), routing=routing_share(per_expert))

