"""Synthetic face benchmarks (UniAttackData-like, JFSFDB-like) and their protocols as data."""

import numpy as np
import pytest

from pad_core.config import DataCfg
from pad_core.data import load_benchmark, prepare, read_manifest
from pad_core.data.synthetic import face, materialize

FACE = dict(synth_scale=0.02, synth_size=32)


@pytest.fixture(scope="module")
def uad():
    return read_manifest(materialize("synthetic:uniattack", scale=0.02, size=32, seed=0)).frame


def test_uniattack_structure(uad):
    assert set(uad["attack_type"]) == {"none", "print", "replay", "faceswap", "adversarial"}
    assert set(uad["split"]) == {"train", "dev", "test"} and uad["device"].nunique() == 4
    by = {s: set(uad.loc[uad.split == s, "subject"]) for s in ("train", "dev", "test")}
    assert not (by["train"] & by["dev"] or by["train"] & by["test"] or by["dev"] & by["test"])
    for device, rows in uad.groupby("device"):
        assert rows["label"].nunique() == 2, device


def test_unseen_attack_protocols_select_by_type():
    cfg = DataCfg(manifest="synthetic:uniattack", benchmark="uniattackdata", protocol="P2.1", **FACE)
    p21 = prepare(cfg)
    assert set(p21.train["attack_type"]) == set(p21.dev["attack_type"]) == {"none", "faceswap", "adversarial"}
    assert set(p21.test["attack_type"]) == {"none", "print", "replay"}
    p22 = prepare(DataCfg(manifest="synthetic:uniattack", benchmark="uniattackdata", protocol="P2.2", **FACE))
    assert set(p22.test["attack_type"]) == {"none", "faceswap", "adversarial"}
    assert load_benchmark("uniattackdata").groups["P2"] == ["P2.1", "P2.2"]
    assert p21.protocol.threshold_policy == "dev_eer"


def test_jfsfdb_leave_one_subset_out():
    bench = load_benchmark("jfsfdb")
    assert len(bench.expand(["loo"])) == 9 == len(face.JFSFDB)
    data = prepare(DataCfg(manifest="synthetic:jfsfdb", benchmark="jfsfdb", protocol="loo.FF++", **FACE))
    assert "FF++" not in set(data.train["subset"]) and set(data.test["subset"]) == {"FF++"}
    assert set(data.test["attack_type"]) == {"none", "faceswap"}


def test_face_rendering_is_deterministic_and_colour():
    rows = face.plan_rows("uniattack", 0.02, seed=1)
    a, b = face.render_row(rows[3], 32), face.render_row(rows[3], 32)
    assert a.shape == (32, 32, 3) and np.array_equal(a, b)
