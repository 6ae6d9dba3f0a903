"""How the depth experts' 256-bin logits are mixed: MEMM settings of ATR-FAS Table 3 (METHODS.md §5(d)).

``single``: one depth network (w/o MEMM); ``avg``: uniform 1/m; ``sum``: plain sum; ``cat``: concatenated
and fused by a 1x1 conv; ``gate``: softmax(type gate)-weighted sum (MEMM-RG / -TG: loss.gate_w = 0 / > 0).
Every mix weights *logits*, before the per-pixel softmax, as the released ``infer_depth_map`` does.

Legend: b samples, n frames, f = b*n frames flattened into the batch, m experts, k depth bins, h w depth map.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from einops import rearrange
from torch import nn

from pad_core.models.moe.fp32 import fp32_region
from pad_core.registry import Registry

MIXES: Registry = Registry("atr mix")
MixOut = tuple[torch.Tensor, "torch.Tensor | None"]  # (mixed logits f k h w, gate logits b n m or None)


class Mix(nn.Module):
    """Base: ``forward(logits, gate_input, frames)``; ``logits`` is one f k h w tensor per expert."""

    def __init__(self, *, experts: int, depth_bins: int, make_gate: Callable[[], nn.Module],
                 per_frame: bool) -> None:
        super().__init__()

    @staticmethod
    def expert_count(experts: int) -> int:
        return experts

    def combine(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # every registered mix overrides it (or forward)

    def forward(self, logits: list[torch.Tensor], gate_input: torch.Tensor, frames: int) -> MixOut:
        return self.combine(torch.stack(logits, dim=1)), None


@MIXES.register("single")
class SingleMix(Mix):
    """w/o MEMM: one depth network, no mixing."""

    @staticmethod
    def expert_count(experts: int) -> int:
        return 1

    def combine(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, 0]


@MIXES.register("avg")
class AvgMix(Mix):
    def combine(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.mean(dim=1)


@MIXES.register("sum")
class SumMix(Mix):
    def combine(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.sum(dim=1)


@MIXES.register("cat")
class CatMix(Mix):
    """MEMM-Cat: the m experts' logits concatenated on channels, fused to k bins by a 1x1 conv (our reading
    of "concatenated, then fused"; the paper gives no layer)."""

    def __init__(self, *, experts: int, depth_bins: int, make_gate: Callable[[], nn.Module],
                 per_frame: bool) -> None:
        super().__init__(experts=experts, depth_bins=depth_bins, make_gate=make_gate, per_frame=per_frame)
        self.fuse = nn.Conv2d(experts * depth_bins, depth_bins, kernel_size=1)

    def combine(self, logits: torch.Tensor) -> torch.Tensor:
        return self.fuse(rearrange(logits, "f m k h w -> f (m k) h w"))


def _per_frame(gate: torch.Tensor) -> torch.Tensor:
    return gate


def _pooled_over_frames(gate: torch.Tensor) -> torch.Tensor:
    # One gate per sample (the paper's g), kept on every frame so the loss and the mix see b n m either way.
    return gate.mean(dim=1, keepdim=True).expand_as(gate)


@MIXES.register("gate")
class GateMix(Mix):
    """MEMM-RG/-TG: X_bar = sum_m softmax(g)_m * Expert_m(X0); g is per frame (code) or, with
    ``per_frame=False``, the mean of the frames' gate logits (METHODS.md §5(f).2)."""

    def __init__(self, *, experts: int, depth_bins: int, make_gate: Callable[[], nn.Module],
                 per_frame: bool) -> None:
        super().__init__(experts=experts, depth_bins=depth_bins, make_gate=make_gate, per_frame=per_frame)
        self.gate = make_gate()
        self.pool = _per_frame if per_frame else _pooled_over_frames

    @fp32_region
    def route(self, gate_input: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(gate logits b n m, mixing weights (b n) m) in float32 whatever the autocast: the type gate is small
        next to the m ResUNets, and it is the router (ST-MoE's selective precision)."""
        gate = self.pool(rearrange(self.gate(gate_input), "(b n) m -> b n m", n=frames))
        return gate, rearrange(gate.softmax(dim=-1), "b n m -> (b n) m")

    def forward(self, logits: list[torch.Tensor], gate_input: torch.Tensor, frames: int) -> MixOut:
        gate, weights = self.route(gate_input, frames)
        return torch.einsum("fm,fmkhw->fkhw", weights, torch.stack(logits, dim=1)), gate
