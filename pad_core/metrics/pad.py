"""PAD metrics with one convention throughout (ISO/IEC 30107-3 terms, METHODS.md §1.3).

Conventions:
- label 1 = bona fide (live), 0 = attack; the score s = P(live); decide "live iff s >= tau".
- APCER(tau) = share of attacks with s >= tau; BPCER(tau) = share of bona fide with s < tau.
- ACER = HTER = (APCER + BPCER) / 2 (FAR = APCER, FRR = BPCER); ACC = share of correct decisions.
- APCER is pooled over attack species (what the papers report); ``apcer_max`` is ISO's worst species.
- Every search compares integer counts, never rates (:mod:`pad_core.metrics.counts`): FA = attacks accepted,
  FR = bona fide rejected, N_attack, N_live. Rates with different denominators carry rounding error, so exactly
  tied operating points would compare unequal and a tie-break would never run.
- EER is discrete: candidate thresholds are the distinct scores plus +inf (sklearn's roc_curve with
  drop_intermediate=False); tau* minimises the gap |FA*N_live - FR*N_attack| (= |APCER - BPCER| * N_attack *
  N_live), ties go to the smaller FA*N_live + FR*N_attack (the smaller (APCER + BPCER) / 2), then to the lower
  tau; EER = (APCER + BPCER) / 2 at tau* (bob.measure, pyeer and FLIP's code pick the same point).
- Threshold placement: tau* is a score of the set ("score"), or bob.measure's "midpoint" between it and the next
  lower distinct score. Both split the set the same way (same EER); on another set (dev threshold applied to
  test) a sample scored between the two is accepted under "midpoint" and rejected under "score". The accept-all
  candidate (the lowest score) and the reject-all candidate (+inf) are the same under both.
- TPR@FPR=x is the largest TPR over thresholds whose FPR is *at most* x, decided exactly: FA <= x * N with x the
  decimal written (0.1 = 1/10; no epsilon). The positive class is a parameter (live or attack) and is logged
  with the value. BPCER@APCER=x likewise (smallest BPCER with FA <= x * N_attack).
- AUC = P(s_live > s_attack) + P(s_live = s_attack) / 2, from the same counts (sklearn's roc_auc_score value).
- Rates are fractions in [0, 1]; tables print percentages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pad_core.metrics.counts import (
    Counts,
    as_weights,
    auc_counts,
    decision_counts,
    decision_rates,
    eer_index,
    operating_counts,
    place,
    ratio,
    sort_set,
    within_budget,
)


@dataclass(frozen=True)
class OperatingPoints:
    """APCER and BPCER at every candidate threshold (ascending tau)."""

    thresholds: np.ndarray
    apcer: np.ndarray
    bpcer: np.ndarray


def set_counts(scores: np.ndarray, labels: np.ndarray) -> Counts:
    """The operating counts of one set (one weighting, every row once); refuses a set lacking a class."""
    counts = operating_counts(sort_set(scores, labels), as_weights(None, len(np.asarray(scores))))
    if not counts.both_classes()[0]:
        raise ValueError("operating points need both bona fide and attack samples")
    return counts


def operating_points(scores: np.ndarray, labels: np.ndarray) -> OperatingPoints:
    c = set_counts(scores, labels)
    fa, fr = c.all_columns()
    return OperatingPoints(c.taus, fa[0] / c.n_attack[0], fr[0] / c.n_live[0])


def error_rates(scores: np.ndarray, labels: np.ndarray, tau: float) -> tuple[float, float]:
    """(APCER, BPCER) at ``tau``; NaN for a class that is absent."""
    rates = decision_rates(decision_counts(scores, labels, None, tau, as_weights(None, len(np.asarray(scores)))))
    return float(rates["apcer"][0]), float(rates["bpcer"][0])


def apcer_per_species(scores: np.ndarray, labels: np.ndarray, species: np.ndarray, tau: float) -> dict[str, float]:
    counts = decision_counts(scores, labels, species, tau, as_weights(None, len(np.asarray(scores))))
    per_species = ratio(counts["species_fa"], counts["species_n"])[0]
    return {str(sp): float(v) for sp, v in zip(counts["species"], per_species)}


def eer(scores: np.ndarray, labels: np.ndarray, placement: str = "score") -> tuple[float, float]:
    """(EER, tau*) under the discrete convention in the module docstring; ``placement`` places tau* ("score" or
    "midpoint"); the EER is the same under both."""
    c = set_counts(scores, labels)
    k = eer_index(c)
    value = (c.fa(k)[0] / c.n_attack[0] + c.fr(k)[0] / c.n_live[0]) / 2
    return float(value), place(c.taus, int(k[0]), placement)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    if len(labels) == 0 or labels.min() == labels.max():
        return float("nan")
    num, den = auc_counts(set_counts(scores, labels), as_weights(None, len(labels)))
    return float(num[0] / den[0])


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr_max: float, positive: str = "live") -> float:
    """Largest TPR with FPR at most ``fpr_max`` (exactly: FP <= fpr_max * N); ``positive='attack'`` scores
    attacks by -s (attacks are the positives, bona fide the negatives)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if positive == "attack":
        scores, labels = -scores, 1 - labels
    c = set_counts(scores, labels)  # here FA = false positives (negatives accepted), N_live - FR = true positives
    return float((c.n_live[0] - c.fr(within_budget(c, fpr_max))[0]) / c.n_live[0])


def bpcer_at_apcer(scores: np.ndarray, labels: np.ndarray, apcer_max: float) -> float:
    """Smallest BPCER with APCER at most ``apcer_max`` (exactly: FA <= apcer_max * N_attack)."""
    c = set_counts(scores, labels)
    return float(c.fr(within_budget(c, apcer_max))[0] / c.n_live[0])


def decision_metrics(scores: np.ndarray, labels: np.ndarray, species: np.ndarray, tau: float,
                     apcer_mode: str = "pooled") -> dict[str, float]:
    """Threshold-dependent metrics at ``tau``: APCER (pooled, max, per species), BPCER, ACER, HTER, ACC."""
    counts = decision_counts(scores, labels, species, tau, as_weights(None, len(np.asarray(scores))))
    rates = {k: float(v[0]) for k, v in decision_rates(counts, apcer_mode).items()}
    head = ("apcer", "apcer_max", "bpcer", "acer", "hter", "acc")
    return {**{k: rates.pop(k) for k in head}, "threshold": float(tau), **rates}  # then apcer_<species>
