"""MoAE-CR class regularisation on hand-made features, the metric-loss swaps, and one-class batches."""

import math

import pytest
import torch

from pad_core.config import LossCfg
from pad_core.losses.class_reg import cdm_loss, class_means, dm_loss
from pad_core.losses.composite import batch_losses
from pad_core.losses.metric import METRIC_LOSSES
from pad_core.models.pad_model import PADOut

# Two tight clusters: class 0 around (2, 0), class 1 around (1.9, 0.9); centres similar enough that Q > 0.
X = torch.tensor([[2.0, 0.1], [2.0, -0.1], [1.9, 0.8], [1.9, 1.0]])
Y = torch.tensor([0, 0, 1, 1])


def test_literal_dm_is_identically_zero():
    for seed in range(3):
        x = torch.randn(16, 8, generator=torch.Generator().manual_seed(seed)) * 5
        y = torch.arange(16) % 2
        assert float(dm_loss(x, y, 0.5, "literal")) == 0.0


def test_repaired_dm_is_the_squared_centre_gap_above_t():
    mu = class_means(X, Y)
    q01 = max(0.0, float(mu[0] @ mu[1]) / math.sqrt(2) - 0.5)
    assert q01 > 0
    assert float(dm_loss(X, Y, 0.5, "repaired")) == pytest.approx(q01**2, rel=1e-5)
    assert float(dm_loss(X, Y, 100.0, "repaired")) == 0.0  # centres less similar than t: no penalty


def test_repaired_cdm_by_hand():
    mu = class_means(X, Y)
    dev = (X - mu[Y]).abs()
    att = torch.logsumexp(dev, dim=1).square().mean()
    aff = (X @ mu.T).softmax(dim=1)
    rep = aff[torch.arange(4), 1 - Y].square().mean()
    assert float(cdm_loss(X, Y, "repaired")) == pytest.approx(float(att + rep), rel=1e-5)


def test_literal_cdm_signs_as_printed():
    # With the max subtracted and a leading minus, the literal attraction term is <= 0 (METHODS.md §4(f).2).
    assert float(cdm_loss(X, Y, "literal")) <= 0


@pytest.mark.parametrize("name", METRIC_LOSSES.list())
def test_metric_losses_prefer_separated_classes(name):
    separated = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    loss = METRIC_LOSSES.get(name)
    good = loss(separated, Y, temperature=0.1, margin=0.3)
    bad = loss(mixed, Y, temperature=0.1, margin=0.3)
    assert float(good) < float(bad) and torch.isfinite(good)


def test_hard_triplet_by_hand():
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8]])
    y = torch.tensor([0, 0, 1, 1])
    # anchor 0: hardest positive d(0,1) = 1, hardest negative d(0,2) = 0 -> relu(1 - 0 + 0.3) = 1.3
    loss = METRIC_LOSSES.get("hard_triplet")(f, y, temperature=0.1, margin=0.3)
    d = 1 - f @ f.T
    hardest = [(1, (2, 3)), (0, (2, 3)), (3, (0, 1)), (2, (0, 1))]  # (positive, negatives) per anchor
    expected = [max(0.0, float(d[a, p] - min(d[a, n[0]], d[a, n[1]]) + 0.3)) for a, (p, n) in enumerate(hardest)]
    assert float(loss) == pytest.approx(sum(expected) / 4, rel=1e-5)


def out_for(x):
    return PADOut(logits=torch.zeros(len(x), 2), embed=x, cls=x)


def test_one_class_batches_skip_and_say_so():
    cfg = LossCfg(cr_mode="repaired", metric="supcon")
    terms = batch_losses(out_for(X), torch.zeros(4, dtype=torch.long), cfg)
    assert float(terms["skipped_one_class"][0]) == 1.0
    assert float(terms["dm"][0]) == float(terms["cdm"][0]) == float(terms["metric_supcon"][0]) == 0.0
    both = batch_losses(out_for(X), Y, cfg)
    assert float(both["skipped_one_class"][0]) == 0.0 and float(both["cdm"][0]) > 0
    assert batch_losses(out_for(X), Y, LossCfg()) == {}
