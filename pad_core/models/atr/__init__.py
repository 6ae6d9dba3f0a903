"""ATR-FAS (METHODS.md §5): flash-sequence depth experts mixed by an attack-type gate, fused by frame attention."""

from pad_core.models.atr.model import ATRModel, ATROut, build_atr

__all__ = ["ATRModel", "ATROut", "build_atr"]
