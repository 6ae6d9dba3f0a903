"""Typed, frozen run configuration with flat dotted keys (see :mod:`pad_core.config.schema`)."""

from pad_core.config.family_schema import ATRCfg, BigMoECfg
from pad_core.config.flat import (
    CELL_AXES,
    all_keys,
    config_hash,
    diff,
    from_flat,
    parse_assignments,
    render_value,
    to_flat,
    to_params,
)
from pad_core.config.moe_schema import MoAECfg, MoECfg, SoftMoECfg, SUECfg
from pad_core.config.scales import SCALES, TINY_MODEL, is_paper_scale, scale_overrides
from pad_core.config.schema import BackboneCfg, DataCfg, EvalCfg, HeadCfg, LossCfg, OptimCfg, RunCfg, TrainCfg

__all__ = [
    "CELL_AXES", "SCALES", "ATRCfg", "BigMoECfg", "TINY_MODEL", "BackboneCfg", "DataCfg", "EvalCfg", "HeadCfg",
    "LossCfg", "MoAECfg",
    "MoECfg", "OptimCfg", "RunCfg", "SUECfg", "SoftMoECfg", "TrainCfg", "all_keys", "config_hash", "diff", "from_flat",
    "is_paper_scale", "parse_assignments", "render_value", "scale_overrides", "to_flat", "to_params",
]
