"""The torchvision-style networks by name (the ImageNet baselines and SUEDE Table II's siblings), with what a name
says before any network is built: whether torchvision publishes ImageNet weights for it and whether its paper trains
it from scratch. Torch-free, so that ``--plan``, the random-init rule and the config's reads ask it without loading
torch (docs/BENCHMARKS.md §13); each network's builder and shape live with its code
(:mod:`pad_core.models.backbones.torchvision_nets`, :mod:`pad_core.models.baselines`) and load when first read.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pad_core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

KEY = "backbone.imagenet_weights"
TORCHVISION = "torchvision"  # the value that names torchvision's own cache file


@dataclass(frozen=True)
class Network:
    """A headless network and its shape, declared next to its code (which imports torch)."""

    build: Callable[[], nn.Module]  # returns the network with its classification layer removed
    feature_dim: int  # width of the pooled feature
    image_size: int  # input side the network expects
    depth: int  # residual stages (ResNet), encoder blocks (ViT), conv / residual / dense blocks (the siblings)


@dataclass(frozen=True)
class TorchvisionSpec:
    network: str  # "module:attribute" of its Network, imported when its build or shape is first asked for
    imagenet: str = ""  # torchvision's weights entry that "torchvision" names ("" = it publishes none)
    scratch: bool = False  # trained from scratch in its paper (MesoNet): random init is its paper's start

    @property
    def net(self) -> Network:
        module, attribute = self.network.split(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def build(self) -> Callable[[], nn.Module]:
        return self.net.build

    @property
    def feature_dim(self) -> int:
        return self.net.feature_dim

    @property
    def image_size(self) -> int:
        return self.net.image_size

    @property
    def depth(self) -> int:
        return self.net.depth


TV_BACKBONES: Registry[TorchvisionSpec] = Registry("torchvision backbone")
_NETS, _SIBLINGS = "pad_core.models.backbones.torchvision_nets", "pad_core.models.baselines"
TV_BACKBONES.register("resnet50")(TorchvisionSpec(f"{_NETS}:RESNET50", "ResNet50_Weights.IMAGENET1K_V1"))
TV_BACKBONES.register("vit_b_16")(TorchvisionSpec(f"{_NETS}:VIT_B_16", "ViT_B_16_Weights.IMAGENET1K_V1"))
TV_BACKBONES.register("resnet-tiny")(TorchvisionSpec(f"{_NETS}:RESNET_TINY"))  # tiny twins: no published weights
TV_BACKBONES.register("vit-tiny")(TorchvisionSpec(f"{_NETS}:VIT_TINY"))
TV_BACKBONES.register("meso4")(TorchvisionSpec(f"{_SIBLINGS}:MESO4", scratch=True))
TV_BACKBONES.register("xception")(TorchvisionSpec(f"{_SIBLINGS}:XCEPTION"))
TV_BACKBONES.register("deeppixbis")(TorchvisionSpec(f"{_SIBLINGS}:DEEPPIXBIS"))


def is_torchvision(name: str) -> bool:
    return name in TV_BACKBONES


def trained_from_scratch(name: str) -> bool:
    """A network its paper trains from random init (no pretrained parts): not refused at the paper scales."""
    return TV_BACKBONES.get(name).scratch


def starts_random(name: str, weights: str) -> bool:
    """True when ``weights`` leaves the torchvision network ``name`` at random init. A folder is looked into for
    the file names it may hold, one of which is torchvision's own (so torchvision loads for that case only)."""
    if weights and os.path.isdir(weights):
        from pad_core.models.backbones.torchvision_nets import folder_file

        return not folder_file(name, weights)
    return not weights or (weights == TORCHVISION and not TV_BACKBONES.get(name).imagenet)
