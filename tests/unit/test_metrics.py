"""PAD metrics against sklearn and hand-computed cases (ties included)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from pad_core.config import EvalCfg
from pad_core.errors import DataError
from pad_core.metrics import (
    ScoreSet,
    auc,
    bpcer_at_apcer,
    decision_metrics,
    eer,
    error_rates,
    select_threshold,
    split_metrics,
    tpr_at_fpr,
)


def random_scores(seed: int, n: int = 400, ties: bool = False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = rng.normal(labels * 1.2, 1.0)
    scores = 1 / (1 + np.exp(-scores))
    if ties:
        scores = np.round(scores, 1)
    return scores, labels


def test_hand_computed_rates_with_ties():
    # attacks: 0.2, 0.5, 0.5, 0.9 ; bona fide: 0.5, 0.6, 0.8
    scores = np.array([0.2, 0.5, 0.5, 0.9, 0.5, 0.6, 0.8])
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    assert error_rates(scores, labels, 0.5) == (3 / 4, 0.0)  # ties at tau count as live (s >= tau)
    assert error_rates(scores, labels, 0.55) == (1 / 4, 1 / 3)
    m = decision_metrics(scores, labels, np.array(["p", "p", "c", "c", "none", "none", "none"]), 0.55)
    assert m["apcer_p"] == 0.0 and m["apcer_c"] == 0.5 and m["apcer_max"] == 0.5
    assert m["acer"] == pytest.approx((1 / 4 + 1 / 3) / 2) == m["hter"]
    assert m["acc"] == pytest.approx(5 / 7)


def test_hand_computed_eer():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1])
    # tau=0.35: APCER 1/2, BPCER 0; tau=0.4: APCER 1/2, BPCER 1/2 -> gap 0, EER 0.5
    value, tau = eer(scores, labels)
    assert value == 0.5 and tau == 0.4


def test_eer_perfect_separation_and_max_mode():
    scores, labels = np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])
    value, tau = eer(scores, labels)
    assert value == 0.0 and 0.2 < tau <= 0.8
    m = decision_metrics(scores, labels, np.array(["a", "b", "none", "none"]), 0.5, apcer_mode="max")
    assert m["acer"] == 0.0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_eer_matches_sklearn_roc(seed, ties):
    scores, labels = random_scores(seed, ties=ties)
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    n_attack, n_live = int(np.sum(labels == 0)), int(np.sum(labels == 1))
    fa, fr = np.rint(fpr * n_attack).astype(int), n_live - np.rint(tpr * n_live).astype(int)  # integer counts
    gap, total = np.abs(fa * n_live - fr * n_attack), fa * n_live + fr * n_attack  # ties compared exactly
    best = min(range(len(thr)), key=lambda i: (gap[i], total[i], thr[i]))
    value, tau = eer(scores, labels)
    assert tau == thr[best]  # sklearn's first threshold is +inf, as here
    assert value == pytest.approx((fpr[best] + 1 - tpr[best]) / 2, abs=1e-15)
    apcer, bpcer = error_rates(scores, labels, tau)
    assert (apcer + bpcer) / 2 == pytest.approx(value)


@pytest.mark.parametrize("seed", range(4))
def test_auc_matches_sklearn(seed):
    scores, labels = random_scores(seed, ties=seed % 2 == 0)
    assert auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fpr_max", [0.01, 0.1, 0.3])
def test_tpr_at_fpr_is_at_most_the_budget(seed, fpr_max):
    scores, labels = random_scores(seed, ties=True)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    assert tpr_at_fpr(scores, labels, fpr_max) == pytest.approx(tpr[fpr <= fpr_max].max())
    # attack as the positive class: scores flipped, labels flipped
    fpr_a, tpr_a, _ = roc_curve(1 - labels, -scores, drop_intermediate=False)
    assert tpr_at_fpr(scores, labels, fpr_max, positive="attack") == pytest.approx(tpr_a[fpr_a <= fpr_max].max())
    assert bpcer_at_apcer(scores, labels, fpr_max) == pytest.approx(1 - tpr[fpr <= fpr_max].max())


def test_dev_eer_threshold_never_reads_test():
    scores, labels = random_scores(1)
    dev = ScoreSet("dev", scores, labels, np.where(labels == 1, "none", "print"))
    test_a = ScoreSet("test", scores[::-1].copy(), labels, dev.species)
    test_b = ScoreSet("test", np.zeros_like(scores), labels, dev.species)
    tau_a = select_threshold("dev_eer", dev=dev, test=test_a)
    assert tau_a == select_threshold("dev_eer", dev=dev, test=test_b) == eer(scores, labels)[1]
    assert select_threshold("test_eer", dev=dev, test=test_a) == eer(test_a.scores, labels)[1]
    assert select_threshold("fixed", dev=None, test=None, fixed=0.3) == 0.3
    with pytest.raises(AssertionError):
        select_threshold("dev_eer", dev=test_a, test=None)


def test_threshold_on_one_class_split_is_a_clear_error():
    dev = ScoreSet("dev", np.array([0.1, 0.2]), np.array([1, 1]), np.array(["none", "none"]))
    with pytest.raises(DataError, match="lacks one class"):
        select_threshold("dev_eer", dev=dev, test=None)


def test_split_metrics_keys():
    scores, labels = random_scores(2)
    s = ScoreSet("test", scores, labels, np.where(labels == 1, "none", "print"))
    m = split_metrics(s, "P3.1", 0.5, EvalCfg())
    for k in ("acer", "apcer", "bpcer", "acc", "auc", "eer", "hter", "apcer_max", "tpr_at_fpr_0.01", "threshold"):
        assert f"test/p3.1/{k}" in m
