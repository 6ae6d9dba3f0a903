"""Hooking MoE layers into open_clip blocks by replacing ``resblock.mlp`` (METHODS.md §1.1).

The block computes ``x + W(ln_2 x)``; ``W`` is one of the wrappers below, chosen by ``moe.mode``.
Each wrapper keeps its last :class:`MoEOut` so the model can gather aux terms after a forward.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from pad_core.models.moe.outputs import MoEOut
from pad_core.registry import Registry

WRAPPERS: Registry[type[nn.Module]] = Registry("moe mode")


class _MoEWrapper(nn.Module):
    def __init__(self, mlp: nn.Module, moe: nn.Module) -> None:
        super().__init__()
        self.moe = moe
        self.name = ""  # "v3" = visual block 3, "t5" = text block 5 (set by inject)
        self.last: MoEOut | None = None

    def pop_last(self) -> MoEOut | None:
        last, self.last = self.last, None
        return last


@WRAPPERS.register("parallel")
class ParallelMoE(_MoEWrapper):
    """W(h) = MLP(h) + MoE(h): the MoE runs beside CLIP's MLP (La-SoftMoE, MMoE, MoAE-CR)."""

    def __init__(self, mlp: nn.Module, moe: nn.Module) -> None:
        super().__init__(mlp, moe)
        self.mlp = mlp

    @property
    def c_fc(self) -> nn.Module:
        # open_clip's get_cast_dtype() reads resblocks[0].mlp.c_fc.weight.dtype.
        return self.mlp.c_fc

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        self.last = self.moe(h)
        return self.mlp(h) + self.last.x


@WRAPPERS.register("replace")
class ReplaceMoE(_MoEWrapper):
    """W(h) = MoE(h): the MLP is dropped."""

    @property
    def c_fc(self) -> SimpleNamespace:
        # No MLP is left; expose a parameter of the MoE so get_cast_dtype() still finds the weight dtype.
        return SimpleNamespace(weight=next(self.moe.parameters()))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        self.last = self.moe(h)
        return self.last.x


def inject(blocks: nn.ModuleList, layers: tuple[int, ...], wrapper_cls: type[_MoEWrapper], make_moe,
           prefix: str) -> list[_MoEWrapper]:
    """Replace ``blocks[i].mlp`` for i in ``layers`` by ``wrapper_cls`` (``WRAPPERS.get(moe.mode)``, resolved by the
    factory) around ``make_moe(blocks[i].mlp)``."""
    wrappers = []
    for i in layers:
        wrapper = wrapper_cls(blocks[i].mlp, make_moe(blocks[i].mlp))
        wrapper.name = f"{prefix}{i}"
        blocks[i].mlp = wrapper
        wrappers.append(wrapper)
    return wrappers
