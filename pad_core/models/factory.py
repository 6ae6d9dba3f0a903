"""``create_model(name_or_cfg, **overrides)``: the one way models are built (timm pattern).

``name`` is a registered variant (a flat config delta, see :mod:`pad_core.models.variants`);
overrides are flat dotted keys, given as ``**{"moe.soft.num_experts": 8}`` or ``moe__soft__num_experts=8``.
Every check that needs the backbone's shape (layer indices, head divisibility, tower availability), its pretrained
weights, or a build of the model is in :func:`validate_model_cfg`, which sweeps call before any trial starts.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from pad_core.config import ATRCfg, BackboneCfg, BigMoECfg, HeadCfg, LossCfg, RunCfg, from_flat
from pad_core.config.moe_schema import MoECfg
from pad_core.config.weight_names import is_weights_path
from pad_core.errors import ConfigError, PadError
from pad_core.models.backbones import backbone_info, create_clip, create_torchvision, is_torchvision, tokenize
from pad_core.models.backbones.clip_weights import check_clip_pretrained
from pad_core.models.backbones.torchvision_nets import check_imagenet_weights
from pad_core.models.heads import HEADS, prompt_texts
from pad_core.models.initial_weights import PRETRAINED, weights_key, weights_value
from pad_core.models.moe.placement import WRAPPERS, inject
from pad_core.models.moe_blocks import moe_placements  # torch-free: --plan places the layers too
from pad_core.models.moe_layers import MOE_LAYERS
from pad_core.models.pad_model import ClassifierModel, PADModel
from pad_core.models.variants import VARIANTS
from pad_core.registry import Registry

TOWER_PREFIX = {"visual": "v", "text": "t"}


def resolve_run_cfg(name_or_cfg: str | RunCfg, overrides: dict[str, Any] | None = None) -> RunCfg:
    """A variant name or a RunCfg, with flat overrides applied (``__`` in keys stands for ``.``)."""
    flat = {k.replace("__", "."): v for k, v in (overrides or {}).items()}
    if isinstance(name_or_cfg, RunCfg):
        return from_flat(flat, name_or_cfg) if flat else name_or_cfg
    return from_flat({**VARIANTS.get(name_or_cfg), **flat})


def validate_model_cfg(cfg: RunCfg) -> None:
    """Everything about the model that would fail in every trial, checked before any starts (ConfigError naming the
    key and the fix): the rules that need the backbone's shape, the pretrained weights (tag known and obtainable,
    or the file read and matched against the architecture), and a build of the whole model on the meta device."""
    check_shape_rules(cfg)
    _dry_build(cfg.family, replace(cfg.backbone, pretrained="", imagenet_weights=""), cfg.moe, cfg.head, cfg.bigmoe,
               cfg.atr, cfg.loss)
    key = weights_key(cfg)
    if key:
        check_backbone_weights(cfg.backbone.name, weights_value(cfg), key)


def check_backbone_weights(name: str, weights: str, key: str = PRETRAINED) -> None:
    """The weights a trial will load, checked on the driver; a file must be named by an absolute path, since trials
    run in folders of their own (the check itself also runs where the weights load, see create_clip)."""
    if is_weights_path(weights) and "://" not in weights and not os.path.isabs(weights):
        guess = os.path.abspath(os.path.expanduser(weights))
        raise ConfigError(key, weights, "a relative path: trials run in another folder, where it names nothing",
                          f"give the absolute path ({guess}?)")
    (check_imagenet_weights if is_torchvision(name) else check_clip_pretrained)(name, weights)


@functools.lru_cache(maxsize=64)
def _dry_build(family: str, backbone: BackboneCfg, moe: MoECfg, head: HeadCfg, bigmoe: BigMoECfg, atr: ATRCfg,
               loss: LossCfg) -> None:
    """Build the model on the meta device (no memory, ~0.1 s at ViT-B/16): a setting that breaks construction is
    refused here instead of in every trial. Cached by the parts a model is built from (not protocol, seed, data)."""
    cfg = RunCfg(family=family, backbone=backbone, moe=moe, head=head, bigmoe=bigmoe, atr=atr, loss=loss)
    try:
        with torch.device("meta"):
            FAMILIES.get(family)(cfg)
    except PadError:
        raise
    except Exception as err:  # any construction error fails every trial the same way
        raise ConfigError("model", f"family={family}, backbone.name={backbone.name}, moe.kind={moe.kind}",
                          f"cannot be built ({type(err).__name__}: {err})",
                          "every trial would fail the same way: change the settings the error points at") from None


def check_shape_rules(cfg: RunCfg) -> None:
    """Checks that need the backbone's shape; raises ConfigError naming the key and the fix."""
    info = backbone_info(cfg.backbone.name)
    if cfg.family != "clip":
        return validate_family_cfg(cfg, info)
    if is_torchvision(cfg.backbone.name):
        if cfg.moe.kind != "none" or cfg.head.kind != "linear":
            raise ConfigError("backbone.name", cfg.backbone.name, "torchvision baselines take no MoE and a linear "
                              "head", "set moe.kind=none and head.kind=linear, or use an open_clip backbone")
        return
    placements = moe_placements(cfg)
    if cfg.moe.kind == "moae" and info.visual_width % cfg.moe.moae.heads:
        raise ConfigError("moe.moae.heads", cfg.moe.moae.heads, f"does not divide the width {info.visual_width}",
                          "use a divisor of the backbone width (2, 4, 8 at ViT-B/16)")
    check_expert_widths(cfg.moe, info.visual_width)
    hidden = 4 * info.visual_width  # CLIP's MLP ratio
    if cfg.moe.kind == "sue" and cfg.moe.sue.routed_init == "copy_mlp" and cfg.moe.sue.routed_hidden not in (0, hidden):
        raise ConfigError("moe.sue.routed_hidden", cfg.moe.sue.routed_hidden, "copy_mlp needs the MLP's hidden width",
                          "use routed_hidden=0 with routed_init=copy_mlp")
    if "text" in placements and cfg.head.kind != "prompt":
        raise ConfigError("moe.tower", cfg.moe.tower, f"the text tower is unused by head.kind={cfg.head.kind!r}",
                          "use moe.tower=visual, or the prompt head")


def check_expert_widths(moe: MoECfg, width: int) -> None:
    """An expert's hidden layer (its input width x expert_hidden_mult) needs at least one unit."""
    inputs = {"soft": width, "moae": width // moe.moae.heads}
    if moe.kind not in inputs:
        return
    mult = getattr(moe, moe.kind).expert_hidden_mult
    if int(inputs[moe.kind] * mult) < 1:
        raise ConfigError(f"moe.{moe.kind}.expert_hidden_mult", mult, f"gives experts a hidden width of "
                          f"int({inputs[moe.kind]} x {mult}) = 0", f"use >= {1 / inputs[moe.kind]:.3g} (4.0 is CLIP's)")


def validate_family_cfg(cfg: RunCfg, info) -> None:
    """BIG-MoE needs a ViT (CLIP or torchvision); ATR-FAS's CLIP encoder needs an open_clip backbone."""
    name = cfg.backbone.name
    if cfg.family == "bigmoe" and is_torchvision(name) and not name.startswith("vit"):
        raise ConfigError("backbone.name", name, "BIG-MoE splits a ViT into patch tokens; this is a CNN",
                          "use an open_clip ViT (ViT-B-16-quickgelu) or vit_b_16 (the released code's backbone)")
    if cfg.family == "atr" and cfg.atr.reads_backbone() and is_torchvision(name):
        raise ConfigError("atr.encoder", "clip", f"backbone.name={name!r} is not an open_clip model",
                          "set backbone.name to an open_clip ViT, or atr.encoder=cnn")
    if cfg.head.kind == "prompt" and cfg.head.loss != "ce2":
        raise ConfigError("head.loss", cfg.head.loss, f"family={cfg.family!r} has its own linear classifier",
                          "use head.loss=ce2")


def _towers(clip: nn.Module) -> dict[str, nn.Module]:
    return {"visual": clip.visual.transformer, "text": clip.transformer}


def _head(cfg: RunCfg, embed_dim: int, cls_dim: int) -> nn.Module:
    h = cfg.head
    texts, counts = prompt_texts(h.templates, h.class_words, h.attack_prompts, h.live_prompts)
    tokens = tokenize(cfg.backbone.name, texts) if h.reads_text_tower() else None
    return HEADS.get(h.kind)(tokens=tokens, counts=counts, embed_dim=embed_dim, cls_dim=cls_dim)


def _moe_maker(cfg: MoECfg, width: int):
    build = MOE_LAYERS.get(cfg.kind)
    return lambda mlp: build(cfg, width, mlp)


def _freeze_unused(clip: nn.Module, cfg: RunCfg) -> None:
    """Parameters the head and losses never read stay frozen, so every trainable parameter gets a gradient
    (the audit checks it) and DDP needs no unused-parameter search for them."""
    if not cfg.head.reads_text_tower():  # the head says which parts it reads (HeadCfg, pad_core/config/schema.py)
        for name, p in clip.named_parameters():
            if not name.startswith("visual."):
                p.requires_grad_(False)
    reads_projection = cfg.head.reads_projection() or cfg.loss.reads_embed()  # as do the losses (LossCfg)
    if not reads_projection and clip.visual.proj is not None:
        clip.visual.proj.requires_grad_(False)


def build_clip_model(cfg: RunCfg) -> PADModel:
    clip = create_clip(cfg.backbone)
    _freeze_unused(clip, cfg)
    towers, wrappers = _towers(clip), {}
    for tower, layers in moe_placements(cfg).items():
        make = _moe_maker(cfg.moe, towers[tower].width)
        wrapper = WRAPPERS.get(cfg.moe.mode)
        wrappers[tower] = inject(towers[tower].resblocks, layers, wrapper, make, TOWER_PREFIX[tower])
    head = _head(cfg, clip.visual.output_dim, clip.visual.transformer.width)
    return PADModel(clip, head, wrappers, mask_text_padding=cfg.moe.sue.mask_text_padding)


def build_classifier_model(cfg: RunCfg) -> ClassifierModel:
    info = backbone_info(cfg.backbone.name)
    net = create_torchvision(cfg.backbone.name, cfg.backbone.imagenet_weights)
    return ClassifierModel(net, _head(cfg, info.visual_width, info.visual_width))


FAMILIES: Registry = Registry("model family")


@FAMILIES.register("clip")
def _clip_family(cfg: RunCfg) -> nn.Module:
    return (build_classifier_model if is_torchvision(cfg.backbone.name) else build_clip_model)(cfg)


@FAMILIES.register("bigmoe")
def _bigmoe_family(cfg: RunCfg) -> nn.Module:
    from pad_core.models.bigmoe import build_bigmoe  # imported on use: the family's modules are heavy

    return build_bigmoe(cfg)


@FAMILIES.register("atr")
def _atr_family(cfg: RunCfg) -> nn.Module:
    from pad_core.models.atr import build_atr

    return build_atr(cfg)


def create_model(name_or_cfg: str | RunCfg = "clip", **overrides: Any) -> nn.Module:
    cfg = resolve_run_cfg(name_or_cfg, overrides)
    check_shape_rules(cfg)  # the weights are checked where they load (create_clip, create_torchvision)
    return FAMILIES.get(cfg.family)(cfg)
