"""Xception (Chollet, CVPR 2017), the Xception row of SUEDE Table II (the FaceForensics++ baseline): entry flow,
eight middle-flow blocks and the exit flow of depthwise-separable convolutions with residual shortcuts, pooled to
a 2048-d feature at 299 x 299. ImageNet weights of this network are not part of torchvision.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 299
FEATURE_DIM = 2048
MIDDLE_BLOCKS = 8


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1, no bias (batch norm follows)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False))


class XceptionBlock(nn.Module):
    """``len(widths) - 1`` x (ReLU, separable conv, BN), a 3x3/2 max-pool when ``stride`` is 2, plus the shortcut
    (a strided 1x1 conv + BN where the shape changes). ``relu_first`` False for the first block (it follows a ReLU)."""

    def __init__(self, widths: tuple[int, ...], stride: int, relu_first: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
            layers += [nn.ReLU(inplace=i > 0), SeparableConv(c_in, c_out), nn.BatchNorm2d(c_out)]
        if not relu_first:
            layers = layers[1:]
        if stride == 2:
            layers.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.body = nn.Sequential(*layers)
        same = widths[0] == widths[-1] and stride == 1
        self.skip = nn.Identity() if same else nn.Sequential(
            nn.Conv2d(widths[0], widths[-1], 1, stride=stride, bias=False), nn.BatchNorm2d(widths[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class Xception(nn.Module):
    """b 3 h w -> b 2048 (global average pool; 299 x 299 as published, any size >= 32 runs)."""

    def __init__(self) -> None:
        super().__init__()
        entry = [*_conv_bn_relu(3, 32, 2), *_conv_bn_relu(32, 64, 1),
                 XceptionBlock((64, 128, 128), 2, relu_first=False), XceptionBlock((128, 256, 256), 2),
                 XceptionBlock((256, 728, 728), 2)]
        middle = [XceptionBlock((728, 728, 728, 728), 1) for _ in range(MIDDLE_BLOCKS)]
        exit_flow = [XceptionBlock((728, 728, 1024), 2), SeparableConv(1024, 1536), nn.BatchNorm2d(1536),
                     nn.ReLU(inplace=True), SeparableConv(1536, FEATURE_DIM), nn.BatchNorm2d(FEATURE_DIM),
                     nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*entry, *middle, *exit_flow)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)
