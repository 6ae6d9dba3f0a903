"""The metric dictionary logged for one split of one protocol, keyed ``split/protocol/metric``."""

from __future__ import annotations

from pad_core.config.schema import EvalCfg
from pad_core.metrics.pad import auc, bpcer_at_apcer, decision_metrics, eer, tpr_at_fpr
from pad_core.metrics.thresholds import ScoreSet


def metric_key(split: str, protocol: str, metric: str) -> str:
    return f"{split}/{protocol.lower()}/{metric}"


def threshold_free(scores: ScoreSet, cfg: EvalCfg) -> dict[str, float]:
    if not scores.has_both_classes():
        return {}
    eer_value, _ = eer(scores.scores, scores.labels)
    out = {"eer": eer_value, "auc": auc(scores.scores, scores.labels)}
    for x in cfg.tpr_at_fpr:
        out[f"tpr_at_fpr_{x:g}"] = tpr_at_fpr(scores.scores, scores.labels, x, positive=cfg.tpr_positive)
        out[f"bpcer_at_apcer_{x:g}"] = bpcer_at_apcer(scores.scores, scores.labels, x)
    return out


COMPACT = ("eer", "auc", "acer", "apcer", "bpcer", "acc", "threshold")  # what every evaluation logs


def split_metrics(scores: ScoreSet, protocol: str, tau: float, cfg: EvalCfg, compact: bool = False) -> dict[str, float]:
    """Threshold-free metrics plus decision metrics at ``tau``, keyed ``split/protocol/metric``; ``compact`` keeps
    the few that training curves need (the full set is logged once, with the final result)."""
    values = threshold_free(scores, cfg)
    values.update(decision_metrics(scores.scores, scores.labels, scores.species, tau, cfg.apcer_mode))
    values["n"] = float(len(scores.labels))
    if compact:
        values = {k: v for k, v in values.items() if k in COMPACT}
    return {metric_key(scores.split, protocol, k): v for k, v in values.items()}
