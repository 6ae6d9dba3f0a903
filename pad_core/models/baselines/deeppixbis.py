"""DeepPixBiS (George & Marcel, ICB 2019), the DeepPixel row of SUEDE Table II: the first eight layers of DenseNet161
(two dense blocks, two transitions), a 1x1 conv to a 14 x 14 map of per-pixel bona fide probabilities, and the binary
output on the flattened map (the head: padsweep's linear head, the paper's FC + sigmoid as a 2-way softmax).

Deviation: the paper also trains the map against the label broadcast to every pixel (pixel-wise BCE, weight 0.5);
padsweep's losses have no hook for a label-shaped map on classifier baselines, so only the binary output is trained.
The submodule names are torchvision's (``features.conv0`` ...): :func:`imagenet_state` turns torchvision's
DenseNet161 ImageNet file into this network's state dict.
"""

from __future__ import annotations

import re

import torch
import torchvision
from torch import nn

IMAGE_SIZE = 224
MAP_SIDE = 14  # 224 / 16: the map the binary output reads
FIRST_LAYERS = 8  # conv0, norm0, relu0, pool0, denseblock1, transition1, denseblock2, transition2
# torchvision's DenseNet files predate its module names ("norm.1" for "norm1"): the same rename torchvision applies
OLD_NAME = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var|"
                      r"num_batches_tracked))$")


class DeepPixBiS(nn.Module):
    """b 3 h w -> b 196: the flattened sigmoid pixel map (pooled to 14 x 14 when the input is not 224)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torchvision.models.densenet161().features[:FIRST_LAYERS]
        self.pixel_map = nn.Conv2d(384, 1, 1)  # transition2 leaves 384 channels
        self.pool = nn.AdaptiveAvgPool2d(MAP_SIDE)  # identity at 224

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.pool(self.pixel_map(self.features(images)))).flatten(1)


def imagenet_state(densenet161_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The DeepPixBiS tensors of a torchvision DenseNet161 state dict (old or new key names); the 1x1 map conv is
    not in it and keeps its init: save ``{**DeepPixBiS().state_dict(), **imagenet_state(sd)}`` as the weights file."""
    keep = {name for name, _ in DeepPixBiS().features.state_dict().items()}
    out = {}
    for key, value in densenet161_state.items():
        key = OLD_NAME.sub(lambda m: m.group(1) + m.group(2), key)
        if key.startswith("features.") and key[len("features."):] in keep:
            out[key] = value
    return out
