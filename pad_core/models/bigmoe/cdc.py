"""Central-difference convolution (CDCN, Yu et al. 2020) and ECA channel attention, as BIG-MoE uses them.

Legend: b batch, c channels, o output channels, h height, w width.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F


class CDConv2d(nn.Module):
    """CDC(x) = W * x - theta * (sum over the kernel window of W) * x, the second term a 1x1 conv.

    The central-difference term removes the response to a locally constant patch in proportion ``theta``, so
    the conv sees intensity *gradients* (print texture, depth edges) more than absolute level. ``theta = 0``
    is a plain 3x3 conv. No bias: every CDC of the released code is bias-free.
    """

    def __init__(self, in_channels: int, out_channels: int, *, theta: float, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.theta = theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.theta == 0:  # a config constant, not a data-dependent branch: skip the zero-weighted term
            return out
        centre = self.conv.weight.sum(dim=(2, 3), keepdim=True)  # o c 1 1
        return out - self.theta * F.conv2d(x, centre)


class ECA(nn.Module):
    """Efficient channel attention: global average pool, a k-tap 1-d conv across channels, sigmoid gate."""

    def __init__(self, *, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = rearrange(x.mean(dim=(2, 3)), "b c -> b 1 c")
        gate = rearrange(self.conv(pooled).sigmoid(), "b 1 c -> b c 1 1")
        return x * gate
