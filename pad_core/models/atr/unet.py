"""ResUNet depth experts and the EasyResUNet of the attention gate (METHODS.md §5(a).7, §5(a).9).

Legend: b batch (frames flattened in), c channels, h w spatial, K output bins. Level l has width * 2**l
channels; the paper's expert is width 64, 4 levels (64..1024), the attention gate's width 32, 2 levels.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pad_core.models.atr.layers import ConvNormAct, InvertedResidual


class ResUNet(nn.Module):
    """U-Net of inverted-residual blocks: b in h w -> b K h w (same h w), skips joined by concatenation.

    Args:
        in_ch: input channels (the stem's width).
        width: channels of level 0; the pre-conv widens to 2 * width first, as the released code does.
        levels: max-pool levels (each doubles the width; encoder blocks of levels >= 1 expand x2).
        out_ch: output channels (depth bins).
    """

    def __init__(self, in_ch: int, *, width: int, levels: int, out_ch: int) -> None:
        super().__init__()
        widths = [width * 2**level for level in range(levels + 1)]
        self.pre = ConvNormAct(in_ch, 2 * width)
        self.encoders = nn.ModuleList([InvertedResidual(2 * width, width)] + [
            InvertedResidual(widths[lv - 1], widths[lv], expansion=2) for lv in range(1, levels + 1)])
        # The code narrows the deepest level before the first skip join (a decoder of lower capacity). Here the
        # 1x1 conv runs before the nearest upsampling instead of after: identical output (BN statistics of
        # duplicated pixels are unchanged), 4x cheaper.
        self.adapt = ConvNormAct(widths[-1], widths[-2], kernel=1)
        self.decoders = nn.ModuleList([InvertedResidual(2 * widths[lv], widths[max(lv - 1, 0)])
                                       for lv in range(levels)])
        # Released code: the logits come out of conv + BN + ReLU (non-negative logits); kept as published.
        self.last = ConvNormAct(width, out_ch)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)  # ceil: odd sides (image_size / 4 not a power of 2) still work

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        skips = [self.encoders[0](self.pre(x))]
        for encoder in self.encoders[1:]:
            skips.append(encoder(self.pool(skips[-1])))
        return skips

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = self.encode(x)
        d = self.adapt(skips[-1])
        for level in reversed(range(len(self.decoders))):
            skip = skips[level]
            d = F.interpolate(d, size=skip.shape[-2:], mode="nearest")  # nn.Upsample(2) of the code, any size
            d = self.decoders[level](torch.cat([skip, d], dim=1))
        return self.last(d)


class EasyResUNet(ResUNet):
    """The attention gate's smaller U-Net: two down-samples (released ``easy_res_u_net.py``)."""

    def __init__(self, in_ch: int, *, width: int, out_ch: int) -> None:
        super().__init__(in_ch, width=width, levels=2, out_ch=out_ch)
