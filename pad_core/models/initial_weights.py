"""Where a model's initial weights come from, and whether it starts from random init: the rule the factory, the
random-init refusal (pad_core/models/random_init.py) and ``--plan`` share. Torch-free: it reads the config and the
names of the torchvision networks (pad_core/models/torchvision_names.py), so a plan asks it without loading torch
(docs/BENCHMARKS.md §13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pad_core.models.torchvision_names import starts_random, trained_from_scratch

if TYPE_CHECKING:
    from pad_core.config import RunCfg

PRETRAINED, IMAGENET = "backbone.pretrained", "backbone.imagenet_weights"


def reads_backbone(cfg: RunCfg) -> bool:
    """Every family builds the backbone except ATR-FAS with its own CNN encoder (RunCfg.reads states it)."""
    return "backbone" in cfg.reads(cfg)


def weights_key(cfg: RunCfg) -> str:
    """The key the model's initial weights come from: ``backbone.imagenet_weights`` for torchvision networks (the
    ResNet50 / ViT-B/16 baselines, BIG-MoE as released), ``backbone.pretrained`` for open_clip models (CLIP rows,
    BIG-MoE and ATR-FAS on CLIP); "" for ATR-FAS's own CNN, which has no pretrained parts."""
    if not reads_backbone(cfg):
        return ""
    return IMAGENET if "imagenet_weights" in cfg.backbone.reads(cfg) else PRETRAINED  # BackboneCfg.reads states it


def weights_value(cfg: RunCfg) -> str:
    """The value of :func:`weights_key` ('' when the model reads none)."""
    return {PRETRAINED: cfg.backbone.pretrained, IMAGENET: cfg.backbone.imagenet_weights}.get(weights_key(cfg), "")


def starts_from_random_init(cfg: RunCfg) -> bool:
    """A backbone no weights are loaded into, where its paper starts from pretrained ones (ATR-FAS's CNN and MesoNet
    have no pretrained parts: they are not)."""
    key = weights_key(cfg)
    if key == IMAGENET:
        name = cfg.backbone.name
        return starts_random(name, cfg.backbone.imagenet_weights) and not trained_from_scratch(name)
    return key == PRETRAINED and not cfg.backbone.pretrained
