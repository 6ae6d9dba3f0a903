"""BIG-MoE's option values -> the classes (and functions) they stand for, resolved once by ``build_bigmoe``.

The family's factory is the only place a ``bigmoe.*`` name or switch becomes a class: the model, IGMA and CPB take
what :func:`bigmoe_layers` resolved, never a name to look up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from pad_core.config.family_schema import BigMoECfg
from pad_core.models.bigmoe.igma import GATE_INPUTS, GRID_LAYOUT
from pad_core.models.bigmoe.peer import EXPERTS
from pad_core.models.bigmoe.trunk import POS_EMBEDS
from pad_core.models.bigmoe.wiring import code_block, figure_block
from pad_core.models.config_layer import ConfigLayer, TwoWay

WIRING = TwoWay(code_block, figure_block)  # bigmoe.faithful_code_wiring: the released code's, or the figure's


@dataclass(frozen=True)
class BigMoELayers:
    gate: type[nn.Module]  # bigmoe.gate_input: IsolatedGate | ExpertInputGate
    experts: ConfigLayer  # bigmoe.experts: PEER | DenseFFNExperts, built from the peer_* / ffn_* fields
    pos_embed: type[nn.Module]  # bigmoe.pos_embed: TiledPosEmbed | NewPosEmbed
    wiring: Callable  # bigmoe.faithful_code_wiring: code_block | figure_block
    grid_layout: str  # bigmoe.fix_transpose: the einops pattern tokens -> (b, c, rows, cols)


def bigmoe_layers(cfg: BigMoECfg) -> BigMoELayers:
    return BigMoELayers(gate=GATE_INPUTS.get(cfg.gate_input), experts=EXPERTS.get(cfg.experts),
                        pos_embed=POS_EMBEDS.get(cfg.pos_embed), wiring=WIRING(cfg.faithful_code_wiring),
                        grid_layout=GRID_LAYOUT(cfg.fix_transpose))
