"""Exact metrics: constructed exact ties (derived by hand) and quantised or continuous score sets checked against
a reference computed here, by a plain loop over thresholds in exact fractions (not by the code under test)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from pad_core.config import EvalCfg
from pad_core.metrics import (
    ScoreSet,
    auc,
    bpcer_at_apcer,
    decision_metrics,
    eer,
    error_rates,
    select_threshold,
    tpr_at_fpr,
)


def reference_points(scores, labels):
    """(tau, APCER, BPCER) as Fractions at every candidate threshold: the distinct scores, then +inf."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    attack, live = scores[labels == 0], scores[labels == 1]
    points = []
    for tau in [*sorted(set(scores.tolist())), math.inf]:
        fa, fr = int(np.count_nonzero(attack >= tau)), int(np.count_nonzero(live < tau))
        points.append((tau, Fraction(fa, len(attack)), Fraction(fr, len(live))))
    return points


def reference_eer(scores, labels):
    """min over thresholds of (|APCER - BPCER|, APCER + BPCER, tau), exactly; returns (EER, tau)."""
    _, _, _, tau, apcer, bpcer = min((abs(a - b), a + b, t, t, a, b) for t, a, b in reference_points(scores, labels))
    return (apcer + bpcer) / 2, tau


def reference_tpr_at_fpr(scores, labels, budget: str):
    """Largest 1 - BPCER with APCER at most the decimal ``budget`` (live positive), exactly."""
    x = Fraction(budget)
    return max(1 - b for _, a, b in reference_points(scores, labels) if a <= x)


def reference_auc(scores, labels):
    scores, labels = np.asarray(scores), np.asarray(labels)
    attack, live = scores[labels == 0], scores[labels == 1]
    wins = sum(2 * int(np.count_nonzero(attack < s)) + int(np.count_nonzero(attack == s)) for s in live)
    return Fraction(wins, 2 * len(attack) * len(live))


def quantised(n_attack: int, n_live: int, seed: int, decimals: int = 2):
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(0.4, 0.15, n_attack), rng.normal(0.6, 0.15, n_live)]
    return np.round(np.clip(scores, 0, 1), decimals), np.r_[np.zeros(n_attack, int), np.ones(n_live, int)]


def test_exactly_tied_gaps_go_to_the_smaller_error_sum():
    # attacks 0.2, 0.4, 1.0 (N_attack = 3); bona fide 0.2, 0.7 (N_live = 2). Counts (FA, FR) per tau:
    #   0.2: (3, 0) gap |3*2 - 0*3| = 6 | 0.4: (2, 1) gap |4 - 3| = 1, sum 4 + 3 = 7
    #   0.7: (1, 1) gap |2 - 3| = 1, sum 2 + 3 = 5 | 1.0: (1, 2) gap 4 | inf: (0, 2) gap 6
    # tie at gap 1 (|APCER - BPCER| = 1/6 at both) -> smaller sum: tau 0.7, EER = (1/3 + 1/2) / 2 = 5/12.
    # In floats |2/3 - 1/2| = 0.16666666666666663 < |1/3 - 1/2| = 0.16666666666666669: the old ranking took 0.4
    # (EER 7/12) and never reached the tie-break.
    scores, labels = np.array([0.2, 0.4, 1.0, 0.2, 0.7]), np.array([0, 0, 0, 1, 1])
    value, tau = eer(scores, labels)
    assert (value, tau) == (pytest.approx(5 / 12, abs=1e-15), 0.7)
    assert (Fraction(value).limit_denominator(100), tau) == reference_eer(scores, labels)


def test_a_tie_in_gap_and_sum_goes_to_the_lower_threshold():
    # attacks 0.2, 0.5; bona fide 0.5, 0.9 (2 + 2). (FA, FR): 0.2: (2, 0) | 0.5: (1, 0) | 0.9: (0, 1) | inf: (0, 2).
    # Gaps |2FA - 2FR|: 4, 2, 2, 4; sums at 0.5 and 0.9: 2 and 2 -> the lower tau 0.5; EER (1/2 + 0) / 2 = 1/4.
    scores, labels = np.array([0.2, 0.5, 0.5, 0.9]), np.array([0, 0, 1, 1])
    assert eer(scores, labels) == (0.25, 0.5)
    assert eer(scores, labels, placement="midpoint") == (0.25, 0.35)  # halfway to the next lower score, 0.2


# (60, 40, 14) at 0.1: taus 0.5 and 0.6 tie exactly, gap |FA*40 - FR*60| = |28*40 - 8*60| = |11*40 - 18*60| = 640,
# error sums 1600 and 1520 -> 0.6, EER 19/60; in floats the gaps read 0.26666666666666666 < 0.2666666666666667 and
# the old ranking (and bob.measure's float walk) took 0.5, EER 1/3.
@pytest.mark.parametrize(("n_attack", "n_live", "seed", "decimals"), [
    (7, 13, 0, 2), (13, 7, 1, 2), (5000, 3000, 2, 2), (3000, 5000, 3, 2), (40, 25, 4, 2), (25, 40, 5, 2),
    (60, 40, 14, 1), (7, 13, 6, 1)])
def test_quantised_scores_match_the_exact_reference(n_attack, n_live, seed, decimals):
    scores, labels = quantised(n_attack, n_live, seed, decimals)
    want_value, want_tau = reference_eer(scores, labels)
    value, tau = eer(scores, labels)
    assert tau == want_tau and value == pytest.approx(float(want_value), abs=1e-15)
    assert auc(scores, labels) == pytest.approx(float(reference_auc(scores, labels)), abs=1e-15)
    for budget in ("0.01", "0.1", "0.3"):
        want = reference_tpr_at_fpr(scores, labels, budget)
        assert tpr_at_fpr(scores, labels, float(budget)) == pytest.approx(float(want), abs=1e-15)
        assert bpcer_at_apcer(scores, labels, float(budget)) == pytest.approx(float(1 - want), abs=1e-15)
        want_attack = reference_tpr_at_fpr(-scores, 1 - labels, budget)  # attacks positive: scored by -s
        assert tpr_at_fpr(scores, labels, float(budget), positive="attack") == pytest.approx(float(want_attack),
                                                                                             abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1])
def test_continuous_scores_of_unequal_classes_match_the_exact_reference(seed):
    rng = np.random.default_rng(seed)
    scores = np.r_[rng.normal(0, 1, 700), rng.normal(1, 1, 1100)]
    labels = np.r_[np.zeros(700, int), np.ones(1100, int)]
    want_value, want_tau = reference_eer(scores, labels)
    value, tau = eer(scores, labels)
    assert tau == want_tau and value == pytest.approx(float(want_value), abs=1e-15)


def test_a_continuous_set_reaches_the_tie_break():
    # Two overlapping normals, 6,000 attacks + 4,000 bona fide (seed 2): the gaps |FA*4000 - FR*6000| of two
    # operating points tie exactly, yet their float |APCER - BPCER| differ in the last bit, so the old ranking took
    # EER 0.2272917 (tau 0.7601562) instead of the tie-break's 0.2272083 (tau 0.7604352, one more attack rejected).
    rng = np.random.default_rng(2)
    scores, labels = np.r_[rng.normal(0, 1, 6000), rng.normal(1.5, 1, 4000)], np.r_[np.zeros(6000), np.ones(4000)]
    want_value, want_tau = reference_eer(scores, labels)
    assert eer(scores, labels) == (pytest.approx(float(want_value), abs=1e-15), want_tau)
    assert float(want_value) == pytest.approx(0.2272083, abs=1e-7)


def test_at_most_is_decided_exactly_on_the_decimal_written():
    # 1 of 3 attacks accepted is 1/3 > 0.3333333333333 (by 3.3e-14): not within that budget, so the threshold must
    # rise to 0.9 (no attack accepted). The old "<= x + 1e-12" let 1/3 through.
    scores, labels = np.array([0.1, 0.2, 0.8, 0.5, 0.9]), np.array([0, 0, 0, 1, 1])
    assert tpr_at_fpr(scores, labels, 0.3333333333333) == 0.5  # tau 0.9: bona fide 0.9 accepted, 0.5 rejected
    assert bpcer_at_apcer(scores, labels, 0.3333333333333) == 0.5
    assert tpr_at_fpr(scores, labels, 0.34) == 1.0  # 1/3 <= 0.34: tau 0.5 accepts both bona fide
    # a float budget is read as the shortest decimal that gives it: 1 / 3 is 0.3333333333333333 < 1/3
    assert tpr_at_fpr(scores, labels, 1 / 3) == 0.5
    # 0.3 is the decimal 3/10, not the binary float just below it: 3 of 10 attacks accepted is within "at most 0.3"
    scores = np.r_[np.arange(10) / 10, 0.7]  # attacks 0.0 .. 0.9; one bona fide at 0.7
    labels = np.r_[np.zeros(10, int), 1]
    assert tpr_at_fpr(scores, labels, 0.3) == 1.0  # tau 0.7: attacks 0.7, 0.8, 0.9 accepted (3/10)
    assert tpr_at_fpr(scores, labels, 0.29) == 0.0  # at most 2 attacks: tau 0.8 rejects the bona fide


def test_midpoint_splits_dev_alike_but_moves_a_test_sample_across():
    # dev: attacks 0.2, 0.4; bona fide 0.6, 0.8 -> EER 0 at tau 0.6 ("score"); "midpoint" = (0.4 + 0.6) / 2 = 0.5.
    species = np.array(["print", "print", "none", "none"])
    dev = ScoreSet("dev", np.array([0.2, 0.4, 0.6, 0.8]), np.array([0, 0, 1, 1]), species)
    on_score = select_threshold("dev_eer", dev=dev, test=None)
    midpoint = select_threshold("dev_eer", dev=dev, test=None, placement="midpoint")
    assert (on_score, midpoint) == (0.6, 0.5)
    assert decision_metrics(dev.scores, dev.labels, species, on_score) == {
        **decision_metrics(dev.scores, dev.labels, species, midpoint), "threshold": 0.6}  # same dev partition
    # a bona fide test sample scored 0.55 lies in the gap: rejected on the score, accepted at the midpoint
    test_scores, test_labels = np.array([0.3, 0.55]), np.array([0, 1])
    assert error_rates(test_scores, test_labels, on_score) == (0.0, 1.0)
    assert error_rates(test_scores, test_labels, midpoint) == (0.0, 0.0)
    assert select_threshold("fixed", dev=None, test=None, fixed=0.3, placement="midpoint") == 0.3


def test_midpoint_at_the_extremes():
    # attack and bona fide both at 0.1: (FA, FR) at 0.1 = (1, 0), at inf = (0, 1): gaps and sums tie -> the lower tau
    # 0.1, the accept-all candidate. Nothing is lower, so the midpoint stays on it.
    scores, labels = np.array([0.1, 0.1]), np.array([0, 1])
    assert eer(scores, labels) == eer(scores, labels, placement="midpoint") == (0.5, 0.1)
    # adjacent floats: their midpoint rounds onto the lower one, which would change the split; the upper one is kept
    lo = 0.3
    hi = np.nextafter(lo, 1.0)
    assert eer(np.array([lo, hi]), np.array([0, 1]), placement="midpoint") == (0.0, hi)


def test_eval_cfg_takes_the_placement():
    assert EvalCfg().threshold_placement == "score"
    assert EvalCfg(threshold_placement="midpoint").threshold_placement == "midpoint"
