"""Layers are built from their sub-configs by ConfigLayer (pad_core/models/config_layer.py): every field reaches the
layer by name, option names become classes only in the factory, and each option's registry round-trips."""

import dataclasses
import typing

import pytest
import torch
from torch import nn

from pad_core.config.family_schema import ATRCfg, BigMoECfg
from pad_core.config.moe_schema import MoAECfg, SoftMoECfg, SUECfg
from pad_core.models.atr.encoders import ENCODERS
from pad_core.models.atr.gates import FRAME_FUSION, TYPE_GATES, AttentionFusion, MeanFusion
from pad_core.models.atr.mixing import MIXES
from pad_core.models.bigmoe.igma import GATE_INPUTS, GRID_LAYOUT, ROW_MAJOR, W_MAJOR
from pad_core.models.bigmoe.layers import WIRING
from pad_core.models.bigmoe.peer import EXPERTS, PEER, DenseFFNExperts
from pad_core.models.bigmoe.trunk import POS_EMBEDS, TRUNK, clip_trunk, torchvision_trunk
from pad_core.models.bigmoe.wiring import code_block, figure_block
from pad_core.models.config_layer import ClassOption, ConfigLayer
from pad_core.models.moe.experts import ACTIVATIONS
from pad_core.models.moe.moae import IdentityProjection
from pad_core.models.moe.router_norms import ROUTER_NORMS
from pad_core.models.moe_layers import MOAE, PROJECTION, SOFT_MOE, SUE_ROUTED

DECLARED = {"soft": (SOFT_MOE, SoftMoECfg), "moae": (MOAE, MoAECfg), "sue": (SUE_ROUTED, SUECfg),
            "peer": (EXPERTS.get("peer"), BigMoECfg), "ffn": (EXPERTS.get("ffn"), BigMoECfg)}


def allowed(cfg_cls: type, name: str) -> list[str]:
    return list(typing.get_args(typing.get_type_hints(cfg_cls)[name]))


@pytest.mark.parametrize("name", DECLARED)
def test_every_field_is_a_keyword_of_the_layer_or_declared_read_elsewhere(name):
    spec, cfg_cls = DECLARED[name]
    assert spec.unknown_keywords(cfg_cls) == []
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    assert set(spec.classes) <= names and set(spec.elsewhere) <= names  # no declaration of a field that is gone
    assert spec.fields(cfg_cls), "a declaration that reads no field"


def test_a_new_option_is_one_field_and_one_keyword():
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        width_mult: float = 2.0
        act: str = "relu"
        lr_only: float = 0.1  # read by training, not the layer

    class Layer(nn.Module):
        def __init__(self, dim: int, *, width_mult: float = 1.0, act_layer: type[nn.Module] = nn.GELU) -> None:
            super().__init__()
            self.fc, self.act = nn.Linear(dim, int(dim * width_mult)), act_layer()

    acts = {"relu": nn.ReLU, "gelu": nn.GELU}
    spec = ConfigLayer(Layer, classes={"act": ClassOption("act_layer", acts.get)}, elsewhere={"lr_only": "training"})
    built = spec.build(Cfg(), 4)
    assert built.fc.out_features == 8 and isinstance(built.act, nn.ReLU)
    forgotten = ConfigLayer(Layer, classes=spec.classes)  # lr_only neither a keyword nor declared elsewhere
    assert forgotten.unknown_keywords(Cfg) == ["lr_only"]
    with pytest.raises(TypeError, match="lr_only"):
        forgotten.build(Cfg(), 4)


# (config class, field, registry): every value the field allows is a registered name, and every name a value
NAMED_OPTIONS = [(SoftMoECfg, "norm", ROUTER_NORMS), (SoftMoECfg, "expert_act", ACTIVATIONS),
                 (MoAECfg, "expert_act", ACTIVATIONS), (SUECfg, "expert_act", ACTIVATIONS),
                 (BigMoECfg, "gate_input", GATE_INPUTS), (BigMoECfg, "experts", EXPERTS),
                 (BigMoECfg, "pos_embed", POS_EMBEDS), (ATRCfg, "encoder", ENCODERS), (ATRCfg, "encoder", TYPE_GATES),
                 (ATRCfg, "mix", MIXES)]


@pytest.mark.parametrize("cfg_cls, name, registry", NAMED_OPTIONS,
                         ids=[f"{c.__name__}.{n}:{r.family}" for c, n, r in NAMED_OPTIONS])
def test_each_named_option_round_trips_through_its_registry(cfg_cls, name, registry):
    values = allowed(cfg_cls, name)
    assert sorted(values) == registry.list()
    classes = [registry.get(v) for v in values]
    assert len(set(map(id, classes))) == len(values)  # one class per name: a built layer names its option
    back = {id(registry.get(n)): n for n in registry.list()}
    assert [back[id(c)] for c in classes] == values


@pytest.mark.parametrize("choose, on, off", [(PROJECTION, nn.Linear, IdentityProjection),
                                             (WIRING, code_block, figure_block), (GRID_LAYOUT, ROW_MAJOR, W_MAJOR),
                                             (FRAME_FUSION, AttentionFusion, MeanFusion),
                                             (TRUNK, torchvision_trunk, clip_trunk)])
def test_each_switch_is_a_two_way_choice(choose, on, off):
    assert choose(True) is on and choose(False) is off and on is not off
    assert (choose.on, choose.off) == (on, off)


@pytest.mark.parametrize("value", allowed(SoftMoECfg, "norm"))
def test_the_soft_moe_built_from_its_config_holds_the_classes_its_options_name(value):
    cfg = SoftMoECfg(num_experts=2, slots_per_expert=3, norm=value, expert_act="quickgelu")
    layer = SOFT_MOE.build(cfg, 8)
    assert type(layer.norm) is ROUTER_NORMS.get(value)
    assert type(layer.experts.act) is ACTIVATIONS.get("quickgelu") and layer.experts.w1.shape == (2, 8, 32)


@pytest.mark.parametrize("qkv, out", [(True, False), (False, True)])
def test_the_moae_projections_follow_their_switches(qkv, out):
    layer = MOAE.build(MoAECfg(qkv_proj=qkv, out_proj=out, heads=2), 8)
    assert type(layer.to_q) is PROJECTION(qkv) and type(layer.to_out) is PROJECTION(out)


def test_bigmoe_experts_take_their_prefixed_fields():
    cfg = BigMoECfg(peer_keys=3, peer_heads=1, peer_topk=2, peer_key_dim=4, ffn_experts=3, ffn_hidden_mult=0.5)
    peer = EXPERTS.get("peer").build(cfg, 6, gate_dim=5)
    assert isinstance(peer, PEER) and peer.keys.shape == (2, 1, 3, 4) and peer.down.num_embeddings == 9
    ffn = EXPERTS.get("ffn").build(cfg, 6, gate_dim=5)
    assert isinstance(ffn, DenseFFNExperts) and ffn.experts.w1.shape == (3, 6, 3)
    assert ffn(torch.randn(1, 2, 6), torch.randn(1, 2, 5)).shape == (1, 2, 6)
