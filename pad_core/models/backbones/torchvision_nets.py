"""ImageNet-style baselines of the papers' tables (ResNet50, ViT-B/16 with a linear head), built with
torchvision and random init; real weights load from a local state-dict path (nothing is downloaded), matched
against the headless network's shapes before any trial (:func:`check_torchvision_pretrained`).
Tiny twins (``resnet-tiny``, ``vit-tiny``) keep CPU tests and demos fast.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from pad_core.config.weight_names import is_tag
from pad_core.errors import ConfigError
from pad_core.models.backbones.weights import fit, read_state_dict, require_file, shapes
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


# The checkpoint of a whole torchvision classifier carries its ImageNet layer, which the headless network drops.
CLASSIFIER_PREFIXES = ("fc.", "heads.")


@functools.cache
def meta_torchvision(name: str) -> nn.Module:
    """The headless network on the meta device: its state dict's names and shapes, no memory."""
    with torch.device("meta"):
        return TV_BACKBONES.get(name).build()


def check_torchvision_pretrained(name: str, pretrained: str) -> None:
    """ConfigError unless ``pretrained`` is '' or a local state dict that fits the headless ``name`` (checked once
    per file version and process: a sweep's cells share it)."""
    if not pretrained:
        return
    if is_tag(pretrained):
        raise ConfigError("backbone.pretrained", pretrained, f"torchvision baselines ({name}) have no pretrained "
                          "tags: their weights are never downloaded", "give a local torchvision state-dict path "
                          "(e.g. torchvision's resnet50 ImageNet file) or '' for random init")
    require_file(pretrained)
    stat = os.stat(pretrained)
    _check_file(name, os.path.abspath(pretrained), stat.st_size, stat.st_mtime_ns, pretrained)


@functools.lru_cache(maxsize=16)
def _check_file(name: str, path: str, size: int, mtime_ns: int, shown: str) -> None:
    found = shapes(read_state_dict(path))
    result = fit(shapes(meta_torchvision(name).state_dict()), found, ignore=CLASSIFIER_PREFIXES)
    if not result.ok:
        raise ConfigError("backbone.pretrained", shown, f"the weights in {path} do not fit {name}: "
                          f"{result.describe()}", f"give a state dict saved from torchvision's {name}")


def create_torchvision(name: str, pretrained: str) -> nn.Module:
    """The headless network; ``pretrained`` is "" (random init) or a local torchvision state-dict path."""
    net = TV_BACKBONES.get(name).build()
    if not pretrained:
        return net
    check_torchvision_pretrained(name, pretrained)
    state = read_state_dict(pretrained, data=True)
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith(CLASSIFIER_PREFIXES)})
    return net
