"""SoftMoE with MMoE's per-expert dispatch mask and expert cosine distance (METHODS.md §2, §7.1).

Legend: b batch, n tokens, d width, e experts, s slots per expert, z = e*s slots in all.
"""

from __future__ import annotations

import torch
from einops import einsum, rearrange
from torch import nn

from pad_core.models.moe.experts import GELU, BatchedExperts, expert_cosine_distance
from pad_core.models.moe.fp32 import fp32_region
from pad_core.models.moe.mask import exact_count_mask
from pad_core.models.moe.outputs import MoEOut, combine_stats, routing_share
from pad_core.models.moe.router_norms import RMSBoth


class SoftMoE(nn.Module):
    """Soft routing of n tokens into e*s slots, e FFN experts, soft combine back to n tokens.

    Dispatch D = softmax over tokens of the logits; combine C = softmax over all slots, from the
    *unmasked* logits. With ``mask_rates`` set, training multiplies D by an exact-count {0,1} mask
    (no renormalisation); eval never masks. The aux term ``moe_cosine`` is MMoE's Eq.3 for this block.
    """

    def __init__(self, dim: int, *, num_experts: int = 4, slots_per_expert: int = 49,
                 norm_layer: type[nn.Module] = RMSBoth, expert_hidden_mult: float = 4.0,
                 act_layer: type[nn.Module] = GELU, mask_rates: tuple[float, ...] = (), cosine_ref: int = 0,
                 detach_ref: bool = False) -> None:
        super().__init__()
        self.num_experts, self.slots_per_expert = num_experts, slots_per_expert
        self.mask_rates, self.cosine_ref, self.detach_ref = tuple(mask_rates), cosine_ref, detach_ref
        self.phi = nn.Parameter(torch.randn(num_experts, slots_per_expert, dim))  # Alg.1: randn(e, s, d)
        self.norm = norm_layer(dim)
        self.experts = BatchedExperts(dim, num_experts=num_experts, hidden=int(dim * expert_hidden_mult),
                                      act_layer=act_layer)

    @property
    def masking(self) -> bool:
        return self.training and any(r > 0 for r in self.mask_rates)

    def dispatch_mask(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return exact_count_mask(b, n, self.slots_per_expert, self.mask_rates, device=x.device).to(x.dtype)

    @fp32_region
    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(dispatch b n e s, combine b n (e s), slot inputs b n d), in float32 whatever the autocast (router
        norm, logits and both softmaxes: ST-MoE's selective precision)."""
        x_key, phi_key, x_slot = self.norm(x, self.phi)
        logits = einsum(x_key, phi_key, "b n d, e s d -> b n e s")
        return logits.softmax(dim=1), rearrange(logits, "b n e s -> b n (e s)").softmax(dim=-1), x_slot

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> MoEOut:
        """``x``: b n d. ``mask`` (b n e s) overrides the sampled one (tests inject a fixed M)."""
        dispatch, combine, x_slot = self.route(x)
        if mask is None and self.masking:
            mask = self.dispatch_mask(x)
        if mask is not None:
            dispatch = dispatch * mask
        slots = einsum(dispatch, x_slot, "b n e s, b n d -> b e s d")
        y = self.experts(slots)
        out = einsum(combine, rearrange(y, "b e s d -> b (e s) d"), "b n z, b z d -> b n d")
        aux = {"moe_cosine": expert_cosine_distance(y, self.cosine_ref, detach_ref=self.detach_ref)}
        per_expert = rearrange(combine, "b n (e s) -> b n e s", e=self.num_experts)
        stats = {**combine_stats(per_expert), "dispatch_max": dispatch.detach().amax(dim=1).mean()}
        return MoEOut(out, aux=aux, stats=stats, routing=routing_share(per_expert))
