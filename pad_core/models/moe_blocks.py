"""Which blocks of which tower get an MoE layer: a rule on the config and the backbone's depth, torch-free, so that
``--plan`` places the layers to estimate a cell's cost (pad_core/ablation/cost.py) without loading torch; the factory
injects the layers where it says (pad_core/models/factory.py, pad_core/models/moe/placement.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pad_core.errors import ConfigError
from pad_core.models.backbone_shapes import backbone_info

if TYPE_CHECKING:
    from pad_core.config import RunCfg


def resolve_layers(spec: tuple[int, ...] | str, depth: int, *, key: str = "moe.layers") -> tuple[int, ...]:
    """Block indices for a preset (all|early|middle|later|none) or an explicit tuple, checked against depth.

    early/middle/later take ceil(depth/4) blocks: {0,1,2}, {4,5,6}, {9,10,11} on a 12-block ViT
    (SUEDE Table IV; METHODS.md §10 chooses the middle and later sets).
    """
    if not isinstance(spec, str):
        bad = [i for i in spec if not 0 <= i < depth]
        if bad:
            raise ConfigError(key, spec, f"blocks {bad} outside 0..{depth - 1} of a {depth}-block tower",
                              f"use indices in 0..{depth - 1} or a preset (all, early, middle, later)")
        return tuple(sorted(spec))
    k = -(-depth // 4)
    presets = {"all": range(depth), "none": range(0), "early": range(k),
               "middle": range((depth - k) // 2, (depth - k) // 2 + k), "later": range(depth - k, depth)}
    return tuple(presets[spec])


def moe_placements(cfg: RunCfg) -> dict[str, tuple[int, ...]]:
    """Tower -> block indices that get an MoE layer (empty when moe.kind is 'none')."""
    if cfg.moe.kind == "none":
        return {}
    info = backbone_info(cfg.backbone.name)
    depth = {"visual": info.visual_layers, "text": info.text_layers}
    towers = ("visual", "text") if cfg.moe.tower == "both" else (cfg.moe.tower,)
    return {t: resolve_layers(cfg.moe.layers, depth[t], key=f"moe.layers ({t} tower)") for t in towers}
