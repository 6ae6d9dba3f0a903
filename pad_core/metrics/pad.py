"""PAD metrics with one convention throughout (ISO/IEC 30107-3 terms, methods.md §1.3).

Conventions:
- label 1 = bona fide (live), 0 = attack; the score s = P(live); decide "live iff s >= tau".
- APCER(tau) = share of attacks with s >= tau; BPCER(tau) = share of bona fide with s < tau.
- ACER = HTER = (APCER + BPCER) / 2 (FAR = APCER, FRR = BPCER); ACC = share of correct decisions.
- APCER is pooled over attack species (what the papers report); ``apcer_max`` is ISO's worst species.
- EER is discrete: candidate thresholds are the distinct scores plus +inf (sklearn's roc_curve with
  drop_intermediate=False); tau* minimises |APCER - BPCER|, ties go to the smaller (APCER + BPCER) / 2,
  then to the lower tau; EER = (APCER + BPCER) / 2 at tau*.
- TPR@FPR=x is the largest TPR over thresholds whose FPR is *at most* x; the positive class is a
  parameter (live or attack) and is logged with the value. BPCER@APCER=x likewise (smallest BPCER).
- Rates are fractions in [0, 1]; tables print percentages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class OperatingPoints:
    """APCER and BPCER at every candidate threshold (ascending tau)."""

    thresholds: np.ndarray
    apcer: np.ndarray
    bpcer: np.ndarray


def _split(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    return np.sort(scores[labels == 0]), np.sort(scores[labels == 1])


def operating_points(scores: np.ndarray, labels: np.ndarray) -> OperatingPoints:
    attack, live = _split(scores, labels)
    if len(attack) == 0 or len(live) == 0:
        raise ValueError("operating points need both bona fide and attack samples")
    taus = np.append(np.unique(np.concatenate([attack, live])), np.inf)
    apcer = (len(attack) - np.searchsorted(attack, taus, side="left")) / len(attack)
    bpcer = np.searchsorted(live, taus, side="left") / len(live)
    return OperatingPoints(taus, apcer, bpcer)


def error_rates(scores: np.ndarray, labels: np.ndarray, tau: float) -> tuple[float, float]:
    """(APCER, BPCER) at ``tau``; NaN for a class that is absent."""
    attack, live = _split(scores, labels)
    apcer = float(np.mean(attack >= tau)) if len(attack) else float("nan")
    bpcer = float(np.mean(live < tau)) if len(live) else float("nan")
    return apcer, bpcer


def apcer_per_species(scores: np.ndarray, labels: np.ndarray, species: np.ndarray, tau: float) -> dict[str, float]:
    scores, labels, species = np.asarray(scores), np.asarray(labels), np.asarray(species)
    attacks = labels == 0
    return {str(sp): float(np.mean(scores[attacks & (species == sp)] >= tau)) for sp in np.unique(species[attacks])}


def eer(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(EER, tau*) under the discrete convention in the module docstring."""
    pts = operating_points(scores, labels)
    gap, mean = np.abs(pts.apcer - pts.bpcer), (pts.apcer + pts.bpcer) / 2
    best = np.lexsort((pts.thresholds, mean, gap))[0]  # primary key: gap, then mean, then tau
    return float(mean[best]), float(pts.thresholds[best])


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores, dtype=np.float64)))


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr_max: float, positive: str = "live") -> float:
    """Largest TPR with FPR <= fpr_max; ``positive='attack'`` scores attacks by 1 - s."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if positive == "attack":
        scores, labels = -scores, 1 - labels
    pts = operating_points(scores, labels)  # here "apcer" = FPR on negatives, 1 - "bpcer" = TPR
    ok = pts.apcer <= fpr_max + 1e-12
    return float(np.max(1.0 - pts.bpcer[ok]))


def bpcer_at_apcer(scores: np.ndarray, labels: np.ndarray, apcer_max: float) -> float:
    pts = operating_points(scores, labels)
    return float(np.min(pts.bpcer[pts.apcer <= apcer_max + 1e-12]))


def decision_metrics(scores: np.ndarray, labels: np.ndarray, species: np.ndarray, tau: float,
                     apcer_mode: str = "pooled") -> dict[str, float]:
    """Threshold-dependent metrics at ``tau``: APCER (pooled, max, per species), BPCER, ACER, HTER, ACC."""
    apcer, bpcer = error_rates(scores, labels, tau)
    per_species = apcer_per_species(scores, labels, species, tau)
    apcer_max = max(per_species.values()) if per_species else float("nan")
    headline = apcer_max if apcer_mode == "max" else apcer
    acc = float(np.mean((np.asarray(scores) >= tau) == (np.asarray(labels) == 1)))
    out = {"apcer": apcer, "apcer_max": apcer_max, "bpcer": bpcer, "acer": (headline + bpcer) / 2,
           "hter": (apcer + bpcer) / 2, "acc": acc, "threshold": float(tau)}
    out.update({f"apcer_{sp}": v for sp, v in per_species.items()})
    return out
