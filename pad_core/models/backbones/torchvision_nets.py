"""ImageNet-style baselines of the papers' tables (ResNet50, ViT-B/16 with a linear head), built with
torchvision and random init; real weights load from a local state-dict path (nothing is downloaded).
Tiny twins (``resnet-tiny``, ``vit-tiny``) keep CPU tests and demos fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from pad_core.errors import ConfigError
from pad_core.registry import Registry


@dataclass(frozen=True)
class TorchvisionSpec:
    build: Callable[[], nn.Module]  # returns the network with its classification layer removed
    feature_dim: int  # width of the pooled feature
    image_size: int  # input side the network expects
    depth: int  # residual stages (ResNet) or encoder blocks (ViT)


TV_BACKBONES: Registry[TorchvisionSpec] = Registry("torchvision backbone")


def _headless_resnet(net: ResNet) -> nn.Module:
    net.fc = nn.Identity()
    return net


def _headless_vit(net: torchvision.models.VisionTransformer) -> nn.Module:
    net.heads = nn.Identity()
    return net


TV_BACKBONES.register("resnet50")(TorchvisionSpec(lambda: _headless_resnet(torchvision.models.resnet50()), 2048,
                                                  224, 4))
TV_BACKBONES.register("vit_b_16")(TorchvisionSpec(lambda: _headless_vit(torchvision.models.vit_b_16()), 768, 224, 12))
TV_BACKBONES.register("resnet-tiny")(TorchvisionSpec(lambda: _headless_resnet(ResNet(BasicBlock, [1, 1, 1, 1])), 512,
                                                     64, 4))
TV_BACKBONES.register("vit-tiny")(TorchvisionSpec(lambda: _headless_vit(torchvision.models.VisionTransformer(
    image_size=64, patch_size=8, num_layers=4, num_heads=4, hidden_dim=128, mlp_dim=512)), 128, 64, 4))


def is_torchvision(name: str) -> bool:
    return name in TV_BACKBONES


def create_torchvision(name: str, pretrained: str) -> nn.Module:
    """The headless network; ``pretrained`` is "" (random init) or a local torchvision state-dict path."""
    net = TV_BACKBONES.get(name).build()
    if not pretrained:
        return net
    try:
        state = torch.load(pretrained, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError("backbone.pretrained", pretrained, "checkpoint file not found",
                          "give a local torchvision state-dict path (weights are never downloaded) or ''") from None
    missing, _ = net.load_state_dict(state, strict=False)  # the checkpoint's own fc/heads is expected extra
    if missing:
        raise ConfigError("backbone.pretrained", pretrained, f"{len(missing)} backbone weights missing, e.g. "
                          f"{missing[:3]}", f"give a state dict saved from torchvision's {name}")
    return net
