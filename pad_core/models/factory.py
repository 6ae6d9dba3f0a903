"""``create_model(name_or_cfg, **overrides)``: the one way models are built (timm pattern).

``name`` is a registered variant (a flat config delta, see :mod:`pad_core.models.variants`);
overrides are flat dotted keys, given as ``**{"moe.soft.num_experts": 8}`` or ``moe__soft__num_experts=8``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from pad_core.config import RunCfg, from_flat
from pad_core.config.schema import MoECfg
from pad_core.models.backbones import backbone_info, create_clip, tokenize
from pad_core.models.heads import HEADS, prompt_texts
from pad_core.models.moe.placement import inject, resolve_layers
from pad_core.models.moe.soft_moe import SoftMoE
from pad_core.models.pad_model import PADModel
from pad_core.models.variants import VARIANTS
from pad_core.registry import Registry

MOE_LAYERS: Registry = Registry("moe kind")


@MOE_LAYERS.register("soft")
def _soft_moe(cfg: MoECfg, dim: int) -> nn.Module:
    s = cfg.soft
    return SoftMoE(dim, num_experts=s.num_experts, slots_per_expert=s.slots_per_expert, norm=s.norm,
                   expert_hidden_mult=s.expert_hidden_mult, expert_act=s.expert_act, mask_rates=s.mask_rates,
                   cosine_ref=s.cosine_ref, detach_ref=s.detach_ref)


def resolve_run_cfg(name_or_cfg: str | RunCfg, overrides: dict[str, Any] | None = None) -> RunCfg:
    """A variant name or a RunCfg, with flat overrides applied (``__`` in keys stands for ``.``)."""
    flat = {k.replace("__", "."): v for k, v in (overrides or {}).items()}
    if isinstance(name_or_cfg, RunCfg):
        return from_flat(flat, name_or_cfg) if flat else name_or_cfg
    return from_flat({**VARIANTS.get(name_or_cfg), **flat})


def moe_layer_indices(cfg: RunCfg) -> tuple[int, ...]:
    """The visual blocks that get an MoE layer (empty when moe.kind is 'none')."""
    if cfg.moe.kind == "none":
        return ()
    return resolve_layers(cfg.moe.layers, backbone_info(cfg.backbone.name).visual_layers)


def create_model(name_or_cfg: str | RunCfg = "clip", **overrides: Any) -> PADModel:
    cfg = resolve_run_cfg(name_or_cfg, overrides)
    clip = create_clip(cfg.backbone)
    layers = moe_layer_indices(cfg)
    wrappers = []
    if layers:
        width = clip.visual.transformer.width
        make = MOE_LAYERS.get(cfg.moe.kind)
        wrappers = inject(clip.visual.transformer.resblocks, layers, cfg.moe.mode, lambda _: make(cfg.moe, width))
    tokens = tokenize(cfg.backbone.name, prompt_texts(cfg.head.templates, cfg.head.class_words))
    head = HEADS.get(cfg.head.kind)(tokens, len(cfg.head.templates))
    return PADModel(clip, head, wrappers)
