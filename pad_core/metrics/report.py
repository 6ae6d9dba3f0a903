"""The metric dictionary logged for one split of one protocol, keyed ``split/protocol/metric``.

One value per key and step. The evaluations (the curves) and the final report both land on the last step, so
the final report uses names no evaluation uses: the selected weights' dev scores are ``dev/<p>/selected_<m>``
(the curve ``dev/<p>/<m>`` scored the last weights there), the whole run's mean step time is
``train/<p>/mean_step_seconds`` (the curve ``train/<p>/step_seconds`` is each window's), and test scores
``test/<p>/<m>`` (test is scored only at the end). Tune needs its objective in every result, so
:func:`tune_result` gives the final result the curve names too; MLflow records each quantity under one name.

When the test rows come from videos, the final report also gives the test metrics at both scoring levels from the
same row scores, ``test/<p>/frame_<m>`` and ``test/<p>/video_<m>`` (:func:`level_key`); the unprefixed ``test/<p>/<m>``
stay at the run's own level (``eval.score_level``), which tables read.
"""

from __future__ import annotations

from pad_core.config.schema import EvalCfg
from pad_core.metrics.pad import auc, bpcer_at_apcer, decision_metrics, eer, tpr_at_fpr
from pad_core.metrics.thresholds import ScoreSet


def metric_key(split: str, protocol: str, metric: str) -> str:
    return f"{split}/{protocol.lower()}/{metric}"


SELECTED = "selected_"  # the final report's dev scores: the selected (best-dev or last) weights
RUN_MEAN = "mean_"  # the final report's train-side figures: over the whole run
FINAL_ONLY = {"dev": SELECTED, "train": RUN_MEAN}


def final_key(key: str) -> str:
    """The final report's name for what a curve key measures: ``dev/p1/eer`` -> ``dev/p1/selected_eer``,
    ``train/p1/step_seconds`` -> ``train/p1/mean_step_seconds``; test keys are final already."""
    split, protocol, metric = key.split("/")
    return f"{split}/{protocol}/{FINAL_ONLY.get(split, '')}{metric}"


def curve_key(key: str) -> str | None:
    """The curve name of a final-report key (:func:`final_key` reversed); None for keys with no curve."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] not in FINAL_ONLY or not parts[2].startswith(FINAL_ONLY[parts[0]]):
        return None
    return f"{parts[0]}/{parts[1]}/{parts[2][len(FINAL_ONLY[parts[0]]):]}"


LEVELS = ("frame", "video")  # scoring levels logged side by side when the test rows come from videos


def level_key(key: str, level: str) -> str:
    """The name of a test metric at one scoring level: ``test/p1/acer`` -> ``test/p1/video_acer``. Test only (no
    curve, no ``selected_`` name), so :func:`final_key` and :func:`curve_key` leave it alone."""
    split, protocol, metric = key.split("/")
    return f"{split}/{protocol}/{level}_{metric}"


def tune_result(metrics: dict[str, float]) -> dict[str, float]:
    """What Tune gets: a final result also under the curve names (``dev/p1/eer`` = the selected weights' score),
    because Tune requires the scheduler's and searcher's metric in every result and its searcher learns the
    finished trial's objective from it. Evaluation results pass unchanged."""
    if metrics.get("final") != 1.0:
        return metrics
    aliases = {curve: v for k, v in metrics.items() if (curve := curve_key(k)) is not None and curve not in metrics}
    return {**metrics, **aliases}


def selected_scores(metrics: dict[str, float]) -> dict[str, float]:
    """Dev scores of the selected weights, renamed for the final report (see :func:`final_key`)."""
    return {final_key(k): v for k, v in metrics.items()}


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
    """Threshold-free metrics plus decision metrics at ``tau`` over the set's units (rows, or videos: ``n`` counts
    them; at video level ``n_frames`` and ``frames_per_video_min``/``_max`` too), keyed ``split/protocol/metric``;
    ``compact`` keeps the few that training curves need (the full set is logged once, with the final result)."""
    scores = scores.units  # rows, or videos at video level: every metric counts these
    values = threshold_free(scores, cfg)
    values.update(decision_metrics(scores.scores, scores.labels, scores.species, tau, cfg.apcer_mode))
    values["n"] = float(len(scores.labels))
    if scores.frames is not None:  # per video: how many frames each score averaged (the table's footnote)
        values.update(n_frames=float(scores.frames.sum()), frames_per_video_min=float(scores.frames.min()),
                      frames_per_video_max=float(scores.frames.max()))
    if compact:
        values = {k: v for k, v in values.items() if k in COMPACT}
    return {metric_key(scores.split, protocol, k): v for k, v in values.items()}
