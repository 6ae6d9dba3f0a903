"""Conv building blocks of ATR-FAS (METHODS.md §5(a); the released ``base_layer.py`` / ``inverted_residual.py``).

Legend: b batch (frames flattened in), c channels, h w spatial.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ConvNormAct(nn.Sequential):
    """Same-size conv (padding k // 2) + BatchNorm + ReLU; ``act=False`` leaves the activation out."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel: int = 3, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        layers = [nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, groups=groups),
                  nn.BatchNorm2d(out_ch)]
        super().__init__(*layers, *([nn.ReLU(inplace=True)] if act else []))


class DownConvNormAct(ConvNormAct):
    """Stride-2 conv + BatchNorm + ReLU: halves h and w."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel: int = 3) -> None:
        super().__init__(in_ch, out_ch, kernel=kernel, stride=2)


class InvertedResidual(nn.Module):
    """1x1 expand (x ``expansion``) -> depthwise 3x3 -> 1x1 project (no activation), plus a shortcut
    (1x1 conv when the width changes), then ReLU (MobileNetV2 block as the released ResUNet uses it)."""

    def __init__(self, in_ch: int, out_ch: int, *, expansion: int = 1) -> None:
        super().__init__()
        wide = in_ch * expansion
        self.block = nn.Sequential(ConvNormAct(in_ch, wide, kernel=1), ConvNormAct(wide, wide, groups=wide),
                                   ConvNormAct(wide, out_ch, kernel=1, act=False))
        self.shortcut = nn.Identity() if in_ch == out_ch else ConvNormAct(in_ch, out_ch, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.block(x) + self.shortcut(x))


def expected_value(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel expectation of the bin centres k / (K - 1) under softmax over K bins: b K h w -> b 1 h w.

    The released code's ``infer_depth_map``: the 256-bin logits become a depth (or attention) value in [0, 1].
    """
    bins = torch.linspace(0, 1, logits.shape[1], device=logits.device, dtype=logits.dtype)
    return torch.einsum("bkhw,k->bhw", logits.softmax(dim=1), bins)[:, None]
