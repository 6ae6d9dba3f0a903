"""Bootstrap resamples of one run's test scores, vectorised: B resamples at the cost of a few array passes.

A resample is a row of integer weights (each row's multiplicity). :func:`group_weights` draws them by resampling
unit (subject, else video, else row): units are drawn with replacement, as many as there are, and every row of a
drawn unit counts once per draw, so samples of one identity stay together. :func:`resampled_metric` evaluates a
metric under each row of weights with the count core of :mod:`pad_core.metrics.counts`: the scores are sorted once,
the weights gathered in that order and summed cumulatively, so the counts at every distinct score come out for
all resamples together; a fixed threshold is one matrix product of the weights with indicator columns. Same
integer-count searches and conventions as :mod:`pad_core.metrics.pad`: weights all ones give pad.py's values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pad_core.metrics.counts import (
    ROWS_PER_CHUNK,
    as_weights,
    auc_counts,
    decision_counts,
    decision_rates,
    eer_index,
    operating_counts,
    ratio,
    sort_set,
    within_budget,
)

METRICS = ("acer", "hter", "apcer", "bpcer", "acc", "eer", "auc")
THRESHOLD_FREE = ("eer", "auc")
BUDGETS = ("tpr_at_fpr_", "bpcer_at_apcer_")  # + the budget as written (report.py's names): "tpr_at_fpr_0.01"
DECISION = ("acer", "hter", "apcer", "bpcer", "acc")  # these read a decision threshold (the run's, or re-found)


def resamplable(metric: str) -> bool:
    """Whether :func:`resampled_metrics` re-scores ``metric`` (the table's bootstrap asks before drawing)."""
    return metric in METRICS or metric.startswith(("apcer_", *BUDGETS))


def needs_threshold(metric: str) -> bool:
    """Whether ``metric`` is taken at a decision threshold: it has no value when a run logged none."""
    return resamplable(metric) and metric not in THRESHOLD_FREE and not metric.startswith(BUDGETS)


def group_weights(groups: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """(B, n) int32: each row's multiplicity in each of ``n_resamples`` resamples that draw the distinct values
    of ``groups`` with replacement, as many as there are. Same seed (and same set of groups) -> same draws,
    whatever the row order; rows sharing a group always get the same count. Missing groups (None, NaN, "") are
    refused: give such rows their own id (e.g. the row's path) to resample them alone."""
    groups = np.asarray(groups, dtype=object)
    missing = pd.isna(groups) | (groups.astype(str) == "")
    if missing.any():
        raise ValueError(f"{int(missing.sum())} of {len(groups)} rows have no resampling group (None/NaN/''): "
                         "give each such row its own id")
    if n_resamples < 1:
        raise ValueError(f"n_resamples={n_resamples}: must be >= 1")
    units, unit_of_row = np.unique(groups.astype(str), return_inverse=True)
    n_units = len(units)
    if n_units == 0:
        return np.zeros((n_resamples, 0), dtype=np.int32)
    draws = np.random.default_rng(seed).integers(0, n_units, size=(n_resamples, n_units))
    draws += np.arange(n_resamples)[:, None] * n_units  # one bincount for all resamples
    per_unit = np.bincount(draws.ravel(), minlength=n_resamples * n_units).reshape(n_resamples, n_units)
    return per_unit.astype(np.int32)[:, unit_of_row]


def resampled_metric(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, metric: str,
                     threshold: float | None, species: np.ndarray | None = None,
                     apcer_mode: str = "pooled", tpr_positive: str = "live") -> np.ndarray:
    """(B,) ``metric`` of one run's scores under each row of ``weights`` ((B, n) integer multiplicities).

    ``metric``: one of :data:`METRICS` (or any key of pad.decision_metrics: "apcer_max", "apcer_<species>").
    ``threshold``: the run's decision threshold (dev_eer or fixed policy); None re-finds the EER threshold on each
    resample (test_eer policy; placement cannot matter: the threshold splits the resample it was found on).
    ``threshold`` is ignored for "eer" and "auc". ``apcer_mode`` "max" puts ISO's worst species into ACER (needs
    ``species``). "tpr_at_fpr_<x>" and "bpcer_at_apcer_<x>" (threshold-free, "at most" x exactly, as pad.py) take
    ``tpr_positive``, the class TPR counts. Rates are fractions; a resample lacking a class gives NaN."""
    return resampled_metrics(scores, labels, weights, (metric,), threshold, species, apcer_mode,
                             tpr_positive)[metric]


def resampled_metrics(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, metrics: Sequence[str],
                      threshold: float | None, species: np.ndarray | None = None,
                      apcer_mode: str = "pooled", tpr_positive: str = "live") -> dict[str, np.ndarray]:
    """:func:`resampled_metric` for several metrics of one run at once: the scores are sorted and the weights
    summed once for all of them. Returns metric -> (B,)."""
    if apcer_mode not in ("pooled", "max"):
        raise ValueError(f"apcer_mode={apcer_mode!r}: use 'pooled' or 'max'")
    if apcer_mode == "max" and species is None:
        raise ValueError("apcer_mode='max' needs species")
    unknown = [m for m in metrics if not resamplable(m)]
    if unknown:
        raise ValueError(f"metric={unknown[0]!r}: use one of {list(METRICS)} or {[b + '<x>' for b in BUDGETS]}")
    if tpr_positive not in ("live", "attack"):
        raise ValueError(f"tpr_positive={tpr_positive!r}: use 'live' or 'attack'")
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    weights = as_weights(weights, len(scores))
    out: dict[str, np.ndarray] = {}
    budgets = [m for m in metrics if m.startswith(BUDGETS)]
    if budgets:
        out.update(_budgeted(scores, labels, weights, budgets, tpr_positive))
        metrics = [m for m in metrics if m not in out]
    ordered = sort_set(scores, labels)
    searched = [m for m in metrics if m in THRESHOLD_FREE or threshold is None]
    if searched:
        step = max(1, ROWS_PER_CHUNK // max(1, len(scores)))
        parts = [_searched(ordered, scores, labels, weights[lo:lo + step], searched, species, apcer_mode)
                 for lo in range(0, len(weights), step)]
        out.update({m: np.concatenate([p[m] for p in parts]) if parts else np.zeros(0) for m in searched})
    fixed = [m for m in metrics if m not in out]
    if fixed:
        counts = decision_counts(scores, labels, species, float(threshold), weights)
        rates = decision_rates(counts, apcer_mode)
        out.update({m: _masked(rates[m], counts["n_attack"], counts["n_live"]) for m in fixed})
    return out


def _searched(ordered, scores, labels, weights, metrics, species, apcer_mode) -> dict[str, np.ndarray]:
    """Threshold-free metrics, and decision metrics at each resample's own EER threshold, from one set of counts."""
    c = operating_counts(ordered, weights)
    out = {}
    if "auc" in metrics:
        num, den = auc_counts(c, weights)
        out["auc"] = _masked(ratio(num, den), c.n_attack, c.n_live)
    decided = [m for m in metrics if m != "auc"]
    if not decided:
        return out
    k = eer_index(c)
    fa, fr = c.fa(k), c.fr(k)
    if "eer" in decided:
        out["eer"] = _masked((ratio(fa, c.n_attack) + ratio(fr, c.n_live)) / 2, c.n_attack, c.n_live)
    decided = [m for m in decided if m != "eer"]
    if not decided:
        return out
    if species is None or (apcer_mode == "pooled" and not any(m.startswith("apcer_") for m in decided)):
        counts = {"species": np.array(["attack"]), "species_fa": fa[:, None], "species_n": c.n_attack[:, None],
                  "fa": fa, "n_attack": c.n_attack, "fr": fr, "n_live": c.n_live}
    else:  # per-species counts at each resample's own threshold
        counts = decision_counts(scores, labels, species, c.taus[k], weights)
    rates = decision_rates(counts, apcer_mode)
    out.update({m: _masked(rates[m], c.n_attack, c.n_live) for m in decided})
    return out


def _budgeted(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, metrics: list[str],
              tpr_positive: str) -> dict[str, np.ndarray]:
    """TPR@FPR and BPCER@APCER at the budget in each name, as pad.tpr_at_fpr / pad.bpcer_at_apcer: the lowest
    threshold whose false positives are at most the budget, per resample. TPR with attacks positive counts the
    set with scores negated and labels swapped (pad.py's convention)."""
    sets = {"live": (scores, labels)}
    if tpr_positive == "attack" and any(m.startswith(BUDGETS[0]) for m in metrics):
        sets["attack"] = (-scores, 1 - labels)
    ordered = {k: sort_set(*v) for k, v in sets.items()}  # sorted once, whatever the chunks
    out = {}
    step = max(1, ROWS_PER_CHUNK // max(1, len(scores)))
    for lo in range(0, len(weights), step):
        part = weights[lo:lo + step]
        counts = {k: operating_counts(o, part) for k, o in ordered.items()}
        for m in metrics:
            tpr = m.startswith(BUDGETS[0])
            c = counts[tpr_positive if tpr else "live"]
            budget = m[len(BUDGETS[0] if tpr else BUDGETS[1]):]
            fr = c.fr(within_budget(c, budget))
            value = ratio(c.n_live - fr, c.n_live) if tpr else ratio(fr, c.n_live)
            out.setdefault(m, []).append(_masked(value, c.n_attack, c.n_live))
    return {m: np.concatenate(v) for m, v in out.items()}


def _masked(values: np.ndarray, n_attack: np.ndarray, n_live: np.ndarray) -> np.ndarray:
    return np.where((n_attack > 0) & (n_live > 0), values, np.nan).astype(np.float64)
