"""PAD metrics (numpy/sklearn) and threshold policies; conventions in :mod:`pad_core.metrics.pad`, the integer-count
core they share with the bootstrap resamples in :mod:`pad_core.metrics.counts`."""

from pad_core.metrics.pad import (
    apcer_per_species,
    auc,
    bpcer_at_apcer,
    decision_metrics,
    eer,
    error_rates,
    operating_points,
    tpr_at_fpr,
)
from pad_core.metrics.report import metric_key, split_metrics
from pad_core.metrics.resample import group_weights, resampled_metric, resampled_metrics
from pad_core.metrics.thresholds import POLICIES, ScoreSet, select_threshold

__all__ = [
    "POLICIES", "ScoreSet", "apcer_per_species", "auc", "bpcer_at_apcer", "decision_metrics", "eer",
    "error_rates", "group_weights", "metric_key", "operating_points", "resampled_metric", "resampled_metrics",
    "select_threshold", "split_metrics", "tpr_at_fpr",
]
