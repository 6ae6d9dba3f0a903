"""MoE building blocks; every layer returns :class:`MoEOut` with unweighted aux terms."""

from pad_core.models.moe.outputs import MoEOut
from pad_core.models.moe.soft_moe import SoftMoE

__all__ = ["MoEOut", "SoftMoE"]
