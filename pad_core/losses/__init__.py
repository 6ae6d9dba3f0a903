"""Losses: the head's classification loss plus weighted MoE aux terms (weights from LossCfg)."""

from pad_core.losses.composite import AUX_WEIGHTS, CLS_LOSSES, total_loss

__all__ = ["AUX_WEIGHTS", "CLS_LOSSES", "total_loss"]
