"""Manifests (local and fsspec URIs), protocols as data, the synthetic iris benchmark, the sampler."""

import fsspec
import numpy as np
import pandas as pd
import pytest

from pad_core.config import DataCfg
from pad_core.data import StepBatchSampler, load_benchmark, prepare, read_manifest
from pad_core.data.manifest import carve_dev, check_files_exist
from pad_core.data.synthetic import iris, materialize
from pad_core.errors import ConfigError, DataError

SMOKE = dict(synth_scale=0.01, synth_size=32)


@pytest.fixture(scope="module")
def iris_manifest() -> str:
    return materialize("synthetic:iris", scale=0.01, size=32, seed=0)


def test_synthetic_iris_structure(iris_manifest):
    m = read_manifest(iris_manifest).frame
    assert set(m["subset"]) == set(iris.SUBSETS)
    assert set(m["device"]) == {s.device for s in iris.SUBSETS.values()}
    assert set(m.loc[m.label == 1, "attack_type"]) == {"none"}
    assert set(m.loc[m.label == 0, "attack_type"]) == {"print", "contact_lens"}
    assert not ((m.subset == "Ab") & (m.split != "test")).any()  # Ab has no training data (Table 1)
    for device, rows in m.groupby("device"):  # the device never predicts the label
        assert rows["label"].nunique() == 2, device
    for subset, rows in m.groupby("subset"):
        real, fake = iris.SUBSETS[subset].test
        test = rows[rows.split == "test"]
        assert (test.label == 1).sum() == iris.scaled(real, 0.01) and (test.label == 0).sum() == iris.scaled(fake, 0.01)


def test_splits_are_identity_disjoint(iris_manifest):
    m = read_manifest(iris_manifest).frame
    by_split = {s: set(m.loc[m.split == s, "subject"]) for s in ("train", "dev", "test")}
    assert not by_split["train"] & by_split["dev"] and not by_split["train"] & by_split["test"]
    assert not by_split["dev"] & by_split["test"]
    assert len(by_split["dev"]) > 0


def test_generation_is_deterministic_per_seed():
    rows = iris.plan_rows(0.01, seed=3)
    a, b = iris.render_row(rows[5], 32), iris.render_row(rows[5], 32)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, iris.render_row(iris.plan_rows(0.01, seed=4)[5], 32))


@pytest.mark.parametrize("protocol", ["P1", "P2", "P3.1", "P3.2", "P3.3", "P3.4", "P3.5", "P3.6"])
def test_protocols_select_the_papers_subsets(protocol):
    data = prepare(DataCfg(protocol=protocol, **SMOKE))
    spec = load_benchmark("irisgeneral").protocol(protocol)
    assert set(data.train["subset"]) <= set(spec.train["subset"])
    assert set(data.test["subset"]) == set(spec.test["subset"])
    assert (data.train.split == "train").all() and (data.test.split == "test").all()
    if protocol == "P2":
        assert set(data.train["subset"]) == {"H", "F"}
    if protocol.startswith("P3"):  # leave one device out: no test device is seen in training
        assert not set(data.train["device"]) & set(data.test["device"])


def test_group_expansion():
    bench = load_benchmark("irisgeneral")
    assert bench.expand(["P1", "P3"]) == ["P1", "P3.1", "P3.2", "P3.3", "P3.4", "P3.5", "P3.6"]
    with pytest.raises(ConfigError, match="not a protocol"):
        bench.expand(["P4"])


def write(tmp_path, frame: pd.DataFrame, name: str = "manifest.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def base_frame() -> pd.DataFrame:
    return pd.DataFrame({"path": ["a.png", "b.png"], "label": ["live", "spoof"], "attack_type": ["none", "print"],
                         "subset": ["H", "H"], "device": ["H100", "H100"], "split": ["train", "test"],
                         "subject": ["s1", "s2"]})


def test_manifest_label_words_and_parquet(tmp_path):
    frame = base_frame()
    frame.to_parquet(tmp_path / "m.parquet")
    assert read_manifest(str(tmp_path / "m.parquet")).frame["label"].tolist() == [1, 0]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda f: f.drop(columns=["subject"]), r"missing columns \['subject'\]"),
        (lambda f: f.assign(label=["live", "maybe"]), r"unknown labels \['maybe'\]"),
        (lambda f: f.assign(split=["train", "validation"]), "unknown split values"),
        (lambda f: f.assign(path=["a.png", "../etc/passwd"]), "paths outside the data folder"),
        (lambda f: f.assign(path=["a.png", ""]), "empty path"),
    ],
)
def test_bad_manifests_name_the_problem(tmp_path, mutate, fragment):
    with pytest.raises(DataError, match=fragment) as info:
        read_manifest(write(tmp_path, mutate(base_frame())))
    assert "Fix:" in str(info.value)


def test_missing_manifest_and_missing_images(tmp_path):
    with pytest.raises(DataError, match="cannot read the manifest"):
        read_manifest(str(tmp_path / "nope.csv"))
    manifest = read_manifest(write(tmp_path, base_frame()))
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(DataError, match=r"1 image files are missing, e.g. \['b.png'\]"):
        check_files_exist(manifest, manifest.frame)


def test_manifest_from_an_fsspec_uri(iris_manifest):
    """The same reading path as s3:// (fsspec), here on fsspec's in-memory filesystem."""
    local = read_manifest(iris_manifest)
    mem = fsspec.filesystem("memory")
    for rel in local.frame["path"].head(4):
        with open(local.full_path(rel), "rb") as fh:
            mem.pipe(f"/bench/{rel}", fh.read())
    local.frame.head(4).to_csv("memory://bench/manifest.csv", index=False)
    remote = read_manifest("memory://bench/manifest.csv")
    assert remote.frame["path"].tolist() == local.frame["path"].head(4).tolist()
    check_files_exist(remote, remote.frame)
    with remote.fs.open(remote.full_path(remote.frame["path"][0]), "rb") as fh:
        assert fh.read()[:4] == b"\x89PNG"


def test_carve_dev_is_identity_disjoint():
    frame = pd.DataFrame({"subset": ["A"] * 40, "subject": [f"s{i // 4}" for i in range(40)], "split": "train",
                          "label": [i % 2 for i in range(40)]})
    carved = carve_dev(frame, 0.2, seed=0)
    dev, train = set(carved.loc[carved.split == "dev", "subject"]), set(carved.loc[carved.split == "train", "subject"])
    assert len(dev) == 2 and not dev & train


def test_protocol_with_a_one_class_split_is_refused(tmp_path):
    frame = pd.concat([base_frame()] * 3).reset_index(drop=True)
    frame["label"] = ["live", "live"] * 3
    with pytest.raises(DataError, match="only label"):
        prepare(DataCfg(manifest=write(tmp_path, frame)), check_files=False)


def test_sampler_is_a_pure_function_of_seed_rank_step():
    frame = pd.DataFrame({"subset": ["A", "A", "B", "B"] * 5, "label": [0, 1] * 10})
    s = StepBatchSampler(frame, 8, seed=1)
    resumed = StepBatchSampler(frame, 8, seed=1, start_step=3)
    batches = [b for _, b in zip(range(5), iter(s))]
    assert next(iter(resumed)) == batches[3]
    assert StepBatchSampler(frame, 8, seed=1, rank=1).batch(0) != batches[0]
    groups = frame.iloc[[i for i, _ in batches[0]]].groupby(["subset", "label"]).size()
    assert groups.min() == groups.max() == 2  # balanced over (subset, label)


def test_every_subject_is_its_own_identity():
    rows = [r for r in iris.plan_rows(0.01, seed=0) if r["subset"] == "F" and r["split"] == "train"]
    seeds = {r["subject"]: tuple(r["seed"][:2]) for r in rows}
    assert len(set(seeds.values())) == len(seeds) > 10
