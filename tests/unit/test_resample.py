"""Bootstrap resamples: the vectorised metrics equal pad.py on the explicitly repeated rows, and group weights keep
resampling units whole."""

from __future__ import annotations

import numpy as np
import pytest

from pad_core.metrics import auc, decision_metrics, eer, group_weights, resampled_metric
from pad_core.metrics.resample import resampled_metrics

METRICS = ("acer", "hter", "apcer", "bpcer", "acc", "eer", "auc", "apcer_max")


def tied_set(seed: int, n: int):
    """Scores rounded to 0.1 (many ties), three attack species, both classes."""
    rng = np.random.default_rng(seed)
    labels = np.r_[0, 1, rng.integers(0, 2, n - 2)]
    scores = np.round(np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1), 1)
    species = np.where(labels == 1, "none", rng.choice(["print", "replay", "mask"], n))
    return scores, labels, species


def pad_value(scores, labels, species, metric, threshold, apcer_mode):
    """pad.py's value of ``metric`` on a plain set (NaN where a class is missing)."""
    if labels.min() == labels.max():
        return float("nan")
    if metric == "eer":
        return eer(scores, labels)[0]
    if metric == "auc":
        return auc(scores, labels)
    tau = eer(scores, labels)[1] if threshold is None else threshold
    return decision_metrics(scores, labels, species, tau, apcer_mode)[metric]


@pytest.mark.parametrize("apcer_mode", ["pooled", "max"])
@pytest.mark.parametrize("threshold", [None, 0.5, 0.45])
def test_weights_all_ones_give_pad_values_exactly(threshold, apcer_mode):
    scores, labels, species = tied_set(0, 300)
    ones = np.ones((2, len(scores)), dtype=np.int32)
    for metric in METRICS:
        got = resampled_metric(scores, labels, ones, metric, threshold, species, apcer_mode)
        want = pad_value(scores, labels, species, metric, threshold, apcer_mode)
        assert got.tolist() == [want, want], metric  # exactly, not approximately


@pytest.mark.parametrize("seed", range(8))
def test_a_resample_equals_pad_on_the_repeated_rows(seed):
    rng = np.random.default_rng(100 + seed)
    scores, labels, species = tied_set(seed, int(rng.integers(8, 60)))
    weights = rng.integers(0, 4, size=(6, len(scores))).astype(np.int32)
    weights[0, labels == 1] = 0  # a resample without bona fide: NaN
    threshold = [None, float(rng.choice(scores))][seed % 2]
    for apcer_mode in ("pooled", "max"):
        for metric in METRICS:
            got = resampled_metric(scores, labels, weights, metric, threshold, species, apcer_mode)
            for b, row in enumerate(weights):
                rep = [np.repeat(a, row) for a in (scores, labels, species)]
                want = pad_value(*rep, metric, threshold, apcer_mode) if len(rep[1]) else float("nan")
                assert got[b] == want or (np.isnan(got[b]) and np.isnan(want)), (metric, apcer_mode, b)
            assert np.isnan(got[0])


def test_group_weights_keep_groups_whole_and_draw_as_many_units_as_there_are():
    groups = np.array(["s3", "s1", "s1", "s2", "s3", "s3", "s4", "s2"])
    weights = group_weights(groups, 500, seed=7)
    assert weights.shape == (500, 8) and weights.dtype == np.int32
    for g in np.unique(groups):
        rows = weights[:, groups == g]
        assert (rows == rows[:, :1]).all()  # every row of a unit counts alike
    first_rows = [np.flatnonzero(groups == g)[0] for g in np.unique(groups)]
    assert (weights[:, first_rows].sum(axis=1) == 4).all()  # 4 units drawn per resample
    assert weights.mean() == pytest.approx(1.0, abs=0.1)  # each unit drawn once on average


def test_group_weights_are_seeded_and_ignore_row_order():
    groups = np.array([f"s{i % 13}" for i in range(60)])
    a, b = group_weights(groups, 50, seed=1), group_weights(groups, 50, seed=1)
    assert (a == b).all() and not (a == group_weights(groups, 50, seed=2)).all()
    order = np.random.default_rng(0).permutation(len(groups))
    assert (group_weights(groups[order], 50, seed=1) == a[:, order]).all()  # same draws per unit


def test_group_weights_refuse_rows_without_a_group():
    with pytest.raises(ValueError, match="no resampling group"):
        group_weights(np.array(["s1", "", "s2"], dtype=object), 10, seed=0)
    with pytest.raises(ValueError, match="no resampling group"):
        group_weights(np.array(["s1", None, "s2"], dtype=object), 10, seed=0)


def test_resampled_metric_refuses_misfit_weights_and_unknown_metrics():
    scores, labels, species = tied_set(1, 20)
    with pytest.raises(ValueError, match="do not fit"):
        resampled_metric(scores, labels, np.ones((3, 19), np.int32), "acer", 0.5)
    with pytest.raises(ValueError, match="metric="):
        resampled_metric(scores, labels, np.ones((3, 20), np.int32), "f1", 0.5)
    with pytest.raises(ValueError, match="needs species"):
        resampled_metric(scores, labels, np.ones((3, 20), np.int32), "acer", 0.5, apcer_mode="max")


@pytest.mark.parametrize("threshold", [None, 0.5])
def test_several_metrics_at_once_equal_one_at_a_time(threshold):
    scores, labels, species = tied_set(3, 120)
    weights = group_weights(np.arange(len(scores)) % 17, 20, seed=3)
    together = resampled_metrics(scores, labels, weights, METRICS, threshold, species, "max")
    for metric in METRICS:
        alone = resampled_metric(scores, labels, weights, metric, threshold, species, "max")
        assert np.array_equal(together[metric], alone, equal_nan=True), metric


@pytest.mark.parametrize("positive", ["live", "attack"])
def test_budget_metrics_equal_pad_on_the_repeated_rows(positive):
    """TPR@FPR (either positive class) and BPCER@APCER, "at most" the budget, per resample: what pad.py gives on
    the resample written out row by row (ties and unequal classes; a resample lacking a class is NaN)."""
    from pad_core.metrics import bpcer_at_apcer, tpr_at_fpr

    names = ("tpr_at_fpr_0.1", "tpr_at_fpr_0.3", "bpcer_at_apcer_0.2")
    for seed in range(40):
        scores, labels, _ = tied_set(seed, 3 + seed)
        weights = np.random.default_rng(seed).integers(0, 3, (6, len(scores)))
        weights[0] = 1
        out = resampled_metrics(scores, labels, weights, names, None, tpr_positive=positive)
        for b, w in enumerate(weights):
            s, lab = np.repeat(scores, w), np.repeat(labels, w)
            if len(set(lab)) < 2:
                assert all(np.isnan(out[m][b]) for m in names)
                continue
            assert out["tpr_at_fpr_0.1"][b] == tpr_at_fpr(s, lab, 0.1, positive)
            assert out["tpr_at_fpr_0.3"][b] == tpr_at_fpr(s, lab, 0.3, positive)
            assert out["bpcer_at_apcer_0.2"][b] == bpcer_at_apcer(s, lab, 0.2)
