"""Expert-usage introspection: mutual information and load entropy."""

import math

import numpy as np
import pandas as pd
import pytest

from pad_core.metrics.routing import load_entropy, mutual_information, routing_breakdown, routing_metrics


def test_mutual_information_extremes():
    groups = np.array(["print", "print", "replay", "replay"])
    informative = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    assert mutual_information(informative, groups) == pytest.approx(1.0)  # one bit: expert = attack type
    uniform = np.full((4, 2), 0.5)
    assert mutual_information(uniform, groups) == pytest.approx(0.0, abs=1e-12)
    independent = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=float)
    assert mutual_information(independent, groups) == pytest.approx(0.0, abs=1e-12)


def test_mutual_information_against_a_direct_formula():
    rng = np.random.default_rng(0)
    shares = rng.dirichlet([1, 1, 1], size=200)
    groups = rng.choice(["a", "b", "c", "d"], size=200)
    joint = np.array([[shares[groups == g, e].sum() for g in "abcd"] for e in range(3)]) / 200
    pe, pa = joint.sum(1), joint.sum(0)
    direct = sum(joint[e, g] * math.log2(joint[e, g] / (pe[e] * pa[g])) for e in range(3) for g in range(4))
    assert mutual_information(shares, groups) == pytest.approx(direct)


def test_load_entropy_and_metric_keys():
    assert load_entropy(np.array([0.25] * 4)) == pytest.approx(1.0)
    assert load_entropy(np.array([1.0, 0, 0, 0])) == 0.0
    frame = pd.DataFrame({"attack_type": ["none", "print"], "device": ["a", "b"]})
    shares = {"v0": np.array([[0.7, 0.3], [0.2, 0.8]])}
    m = routing_metrics(shares, frame)
    assert set(m) == {"moe_v0_load_max", "moe_v0_load_entropy", "moe_v0_mi_attack", "moe_v0_mi_device"}
    assert m["moe_v0_load_max"] == pytest.approx(0.55)
    table = routing_breakdown(shares, frame)
    assert list(table.columns) == ["attack_type", "device", "e0", "e1", "layer"] and len(table) == 2
