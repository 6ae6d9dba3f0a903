"""The MoE layers ``moe.kind`` injects into CLIP blocks, each built from its sub-config (``moe.soft``, ``moe.moae``,
``moe.sue``) by a :class:`ConfigLayer`: fields pass by name, option names become classes here and only here."""

from __future__ import annotations

from torch import nn

from pad_core.config.moe_schema import MoECfg
from pad_core.models.config_layer import ClassOption, ConfigLayer, TwoWay
from pad_core.models.moe.experts import ACTIVATIONS
from pad_core.models.moe.moae import IdentityProjection, MoAE
from pad_core.models.moe.routed import RoutedExperts
from pad_core.models.moe.router_norms import ROUTER_NORMS
from pad_core.models.moe.soft_moe import SoftMoE
from pad_core.registry import Registry

MOE_LAYERS: Registry = Registry("moe kind")  # moe.kind -> (cfg, width, the block's MLP) -> layer
ACT = ClassOption("act_layer", ACTIVATIONS.get)  # expert_act = gelu | quickgelu

SOFT_MOE = ConfigLayer(SoftMoE, classes={"norm": ClassOption("norm_layer", ROUTER_NORMS.get),
                                      "expert_act": ACT})
PROJECTION = TwoWay(nn.Linear, IdentityProjection)  # qkv_proj / out_proj: learned, or the identity
MOAE = ConfigLayer(MoAE, classes={"qkv_proj": ClassOption("qkv_layer", PROJECTION),
                                  "out_proj": ClassOption("out_layer", PROJECTION), "expert_act": ACT})
SUE_ROUTED = ConfigLayer(RoutedExperts, classes={"expert_act": ACT}, elsewhere={
    "routed_hidden": "the builder: 0 means the width of the block's MLP, which only the builder sees",
    "routed_init": "the builder: it initialises the experts from the block's MLP after construction",
    "mask_text_padding": "PADModel: it marks the text tower's padding tokens before each forward"})


@MOE_LAYERS.register("soft")
def _soft_moe(cfg: MoECfg, dim: int, mlp: nn.Module) -> nn.Module:
    return SOFT_MOE.build(cfg.soft, dim)


@MOE_LAYERS.register("moae")
def _moae(cfg: MoECfg, dim: int, mlp: nn.Module) -> nn.Module:
    return MOAE.build(cfg.moae, dim)


@MOE_LAYERS.register("sue")
def _sue(cfg: MoECfg, dim: int, mlp: nn.Module) -> nn.Module:
    routed = SUE_ROUTED.build(cfg.sue, dim, hidden=cfg.sue.routed_hidden or mlp.c_fc.out_features)
    routed.init_from_mlp(mlp, cfg.sue.routed_init)
    return routed
