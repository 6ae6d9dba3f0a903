"""The synthetic MMDG-like benchmark (RGB + IR + Depth), its protocols, and the BIG-MoE multimodal dataset."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from pad_core.config import DataCfg, from_flat
from pad_core.data import StepBatchSampler, load_benchmark, prepare, read_manifest
from pad_core.data.manifest import REQUIRED_COLUMNS
from pad_core.data.multimodal import MultiModalImages, make_multimodal_dataset
from pad_core.data.synthetic import materialize, multimodal
from pad_core.errors import DataError

SMOKE = dict(synth_scale=0.01, synth_size=32)
PROTOCOLS = list(load_benchmark("mmdg").protocols)
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PADSWEEP_CACHE", str(tmp_path_factory.mktemp("padcache")))
        yield


@pytest.fixture(scope="module")
def mmdg():
    return read_manifest(materialize("synthetic:mmdg", scale=0.01, size=32, seed=0))


def run_cfg(protocol: str = "P1.W"):
    return from_flat({"family": "bigmoe", "backbone.name": "pad-tiny-vit", "backbone.pretrained": "",
                      "data.manifest": "synthetic:mmdg", "data.benchmark": "mmdg", "data.protocol": protocol,
                      "data.synth_scale": 0.01, "data.synth_size": 32})


def dataset(mmdg, frame, split: str = "train", protocol: str = "P1.W", augment: bool = False) -> MultiModalImages:
    cfg = from_flat({"data.augment": augment}, run_cfg(protocol))
    proto = load_benchmark("mmdg").protocol(protocol)
    return make_multimodal_dataset(cfg, frame, mmdg.fs, mmdg.root, split=split, protocol=proto, mean=MEAN, std=STD)


def test_columns_domains_and_attack_counts(mmdg):
    m = mmdg.frame
    assert list(m.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert {"path_ir", "path_depth"} <= set(m.columns)
    assert (m[["path", "path_ir", "path_depth"]] != "").all().all()  # every sample has all three modalities
    assert set(m["subset"]) == set("CPSW") and m.groupby("subset")["device"].nunique().eq(1).all()
    rows = multimodal.plan_rows(0.01, seed=0)
    assert len(m) == len(rows) and 400 <= len(m) <= 600  # 0.01 x 50,000 nominal
    for name, domain in multimodal.DOMAINS.items():
        d = m[m.subset == name]
        assert set(d.loc[d.label == 0, "attack_type"]) == set(domain.attacks)
        assert set(d.loc[d.label == 1, "attack_type"]) == {"none"}
        per_type = d.groupby("attack_type").size()
        assert per_type["none"] == 2 * per_type.drop("none").min() and per_type.drop("none").nunique() == 1


def test_subjects_are_disjoint_across_splits_within_each_domain(mmdg):
    for name, d in mmdg.frame.groupby("subset"):
        by = {s: set(d.loc[d.split == s, "subject"]) for s in ("train", "dev", "test")}
        assert all(by.values()), name
        assert not (by["train"] & by["dev"] or by["train"] & by["test"] or by["dev"] & by["test"]), name


def test_rendering_is_deterministic_and_shaped(mmdg):
    rows = multimodal.plan_rows(0.01, seed=2)
    a, b = multimodal.render_row(rows[7], 32), multimodal.render_row(rows[7], 32)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a["path"].shape == (32, 32, 3) and a["path_ir"].shape == a["path_depth"].shape == (32, 32)
    other = multimodal.render_row(multimodal.plan_rows(0.01, seed=3)[7], 32)
    assert not np.array_equal(a["path"], other["path"])
    row = mmdg.frame.iloc[0]
    modes = [Image.open(f"{mmdg.root}/{row[c]}").mode for c in ("path", "path_ir", "path_depth")]
    assert modes == ["RGB", "L", "L"]


def test_bona_fide_depth_has_relief_and_replays_are_dark_in_ir_only_where_designed():
    def render(domain: str, attack: str) -> dict:
        rows = [r for r in multimodal.plan_rows(0.01, seed=0) if r["subset"] == domain and r["attack_type"] == attack]
        return multimodal.render_row(rows[0], 64)

    centre = (slice(20, 44), slice(24, 40))
    assert render("W", "none")["path_depth"][centre].std() > render("W", "print")["path_depth"][centre].std()
    assert render("C", "replay")["path_ir"][centre].mean() < 40 < render("P", "replay")["path_ir"][centre].mean()


def test_dataset_items_and_test_missing_only_on_test(mmdg):
    data = prepare(DataCfg(manifest="synthetic:mmdg", benchmark="mmdg", protocol="P2.W.no_depth", **SMOKE))
    test = dataset(mmdg, data.test, split="test", protocol="P2.W.no_depth")
    train = dataset(mmdg, data.train, split="train", protocol="P2.W.no_depth")
    (inputs, label, index), (train_inputs, _, _) = test[0], train[0]
    assert inputs["modalities"].shape == (3, 3, 64, 64) and inputs["missing"].dtype == torch.long
    assert label == int(data.test["label"].iloc[0]) and index == 0
    assert int(inputs["missing"]) == 4 and (inputs["modalities"][2] == 0).all()  # depth = bit 2
    assert (inputs["modalities"][:2] != 0).any(dim=(1, 2, 3)).all()
    assert int(train_inputs["missing"]) == 0 and (train_inputs["modalities"][2] != 0).any()
    both = dataset(mmdg, data.test, split="test", protocol="P2.W.no_depth_ir")
    assert int(both[0][0]["missing"]) == 6


def test_empty_cells_and_absent_columns_are_missing_modalities(mmdg):
    frame = mmdg.frame.head(3).copy()
    frame.loc[frame.index[1], "path_ir"] = ""
    items = dataset(mmdg, frame)
    assert [int(items[i][0]["missing"]) for i in range(3)] == [0, 2, 0]
    assert (items[1][0]["modalities"][1] == 0).all()
    rgb_only = dataset(mmdg, frame.drop(columns=["path_ir", "path_depth"]))
    assert int(rgb_only[0][0]["missing"]) == 6
    with pytest.raises(DataError, match="unknown modalities"):
        MultiModalImages(frame, mmdg.fs, mmdg.root, image_size=32, mean=MEAN, std=STD, augment=False,
                         missing=("thermal",))


def flip_only_seed() -> int:
    """An aug seed whose draws (flip_and_saturate's order: flip, jitter, factor) flip but skip the jitter."""
    for seed in range(100):
        flip, jitter, _ = torch.rand(3, generator=torch.Generator().manual_seed(seed))
        if flip < 0.5 <= jitter:
            return seed
    raise AssertionError("no such seed below 100")


def test_augmentation_flips_all_modalities_together(mmdg):
    seed = flip_only_seed()
    plain = dataset(mmdg, mmdg.frame.head(2))
    augmented = dataset(mmdg, mmdg.frame.head(2), augment=True)
    x, y = plain[(1, seed)][0]["modalities"], augmented[(1, seed)][0]["modalities"]
    torch.testing.assert_close(y, x.flip(-1), atol=1e-5, rtol=0)
    assert torch.equal(augmented[1][0]["modalities"], x)  # no seed, no augmentation


def test_step_batch_sampler_collates_multimodal_batches(mmdg):
    frame = mmdg.frame[mmdg.frame.split == "train"].reset_index(drop=True)
    sampler = StepBatchSampler(frame, 4, seed=0)
    loader = DataLoader(dataset(mmdg, frame, augment=True), batch_sampler=sampler)
    inputs, labels, index = next(iter(loader))
    assert inputs["modalities"].shape == (4, 3, 3, 64, 64) and inputs["missing"].shape == (4,)
    assert labels.shape == index.shape == (4,)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_selects_both_classes(protocol):
    data = prepare(DataCfg(manifest="synthetic:mmdg", benchmark="mmdg", protocol=protocol, **SMOKE))
    spec = load_benchmark("mmdg").protocol(protocol)
    for split in ("train", "dev", "test"):
        assert set(data.split(split)["label"]) == {0, 1}, split
    assert set(data.train["subset"]) == set(spec.train["subset"]) == set(data.dev["subset"])
    assert set(data.test["subset"]) == set(spec.test["subset"]) and not set(data.train["subset"]) & set(
        data.test["subset"])
    assert spec.threshold_policy == "dev_eer"
    assert spec.test_missing == {"no_depth": ("depth",), "no_ir": ("ir",), "no_depth_ir": ("depth", "ir")}.get(
        protocol.split(".")[-1], ())


def test_groups_cover_the_three_protocol_families():
    bench = load_benchmark("mmdg")
    assert bench.expand(["P1"]) == ["P1.W", "P1.S", "P1.P", "P1.C"]
    assert len(bench.expand(["P2"])) == 12 and len(bench.expand(["P2.no_ir"])) == 4
    assert bench.expand(["P3"]) == ["P3.CW", "P3.PS"]
