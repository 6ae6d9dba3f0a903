"""Screen-flash data for ATR-FAS: differential normalisation, the synthetic "flash" benchmark, its ten folds."""

import numpy as np
import pytest
import torch
from PIL import Image

from pad_core.config import DataCfg, from_flat
from pad_core.data import load_benchmark, prepare
from pad_core.data.flash import (
    SPOOF_DEPTH,
    consecutive_matrix,
    differential_normalize,
    dn_matrix,
    frame_count,
    make_flash_dataset,
    select_frames,
)
from pad_core.data.synthetic import flash, materialize
from pad_core.data.synthetic.flash_render import SCENES

SCALE, SIZE = 0.01, 32
FOLDS = [f"F{k}" for k in range(1, 11)]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """{protocol: ProtocolData} of all ten folds, generated once into a private cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PADSWEEP_CACHE", str(tmp_path_factory.mktemp("cache")))
        materialize("synthetic:flash", scale=SCALE, size=SIZE, seed=0)
        yield {p: prepare(DataCfg(manifest="synthetic:flash", benchmark="flash", protocol=p, synth_scale=SCALE,
                                  synth_size=SIZE)) for p in FOLDS}


@pytest.fixture(scope="module")
def manifest(bench):
    return bench["F1"].manifest.frame


@pytest.mark.parametrize("n0", range(3, 9))
def test_difference_matrices(n0):
    d, c = dn_matrix(n0), consecutive_matrix(n0)
    assert d.shape == (2 * (n0 - 2), n0) and c.shape == (n0 - 1, n0)
    for m in (d, c):
        assert (m.sum(dim=1) == 0).all() and ((m == 1).sum(1) == 1).all() and ((m == -1).sum(1) == 1).all()
    assert (d[: n0 - 2, 0] == 1).all() and (d[n0 - 2:, -1] == -1).all()  # extremes minus the middle frames
    assert [frame_count(n0, m) for m in ("dn", "consecutive", "off")] == [2 * (n0 - 2), n0 - 1, n0]


def test_dn_matrix_n0_5_is_the_papers():
    expected = [[1, -1, 0, 0, 0], [1, 0, -1, 0, 0], [1, 0, 0, -1, 0], [0, 1, 0, 0, -1], [0, 0, 1, 0, -1],
                [0, 0, 0, 1, -1]]
    assert torch.equal(dn_matrix(5), torch.tensor(expected, dtype=torch.float32))
    x = torch.rand(2, 5, 3, 4, 4)
    torch.testing.assert_close(differential_normalize(x, "dn")[:, 3], x[:, 1] - x[:, 4])
    torch.testing.assert_close(differential_normalize(x, "consecutive")[:, 0], x[:, 1] - x[:, 0])
    assert torch.equal(differential_normalize(x, "off"), x)


@pytest.mark.parametrize("species", ["none", "print", "replay", "mask3d"])
def test_dn_cancels_the_ambient_light(species):
    row = next(r for r in flash.plan_rows(SCALE, 0) if r["attack_type"] == species)
    as_tensor = lambda f: torch.from_numpy(f).permute(0, 3, 1, 2)
    dark, _ = flash.render_float(row, SIZE, scene="dark_room")
    sunny, _ = flash.render_float(row, SIZE, scene="sunlight")
    assert np.abs(dark - sunny).max() > 0.01  # the raw frames change with the scene (least for a bright screen)
    for mode in ("dn", "consecutive"):
        a, b = differential_normalize(as_tensor(dark), mode), differential_normalize(as_tensor(sunny), mode)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
        assert a.abs().max() > 0.02  # the flash differences remain
    assert not torch.allclose(differential_normalize(as_tensor(dark), "off"), as_tensor(sunny), atol=1e-3)


@pytest.mark.parametrize("n0", range(3, 9))
def test_select_frames_keeps_both_extremes(n0):
    index = select_frames(torch.arange(8), n0)
    assert len(index) == n0 and index[0] == 0 and index[-1] == 7 and (index.diff() > 0).all()


@pytest.mark.parametrize("recorded", [5, 8, 12, 31])
def test_select_frames_from_a_capture_of_any_length(recorded):
    """Imported captures hold any number of frames >= n0 (not only the synthetic strips' 8): both extremes are
    always kept, the choice is evenly spaced and the same every time."""
    for n0 in range(3, min(recorded, 8) + 1):
        index = select_frames(torch.arange(recorded), n0)
        assert len(index) == n0 and index[0] == 0 and index[-1] == recorded - 1 and (index.diff() > 0).all()
    assert select_frames(torch.arange(12), 5).tolist() == [0, 3, 6, 8, 11]


def test_benchmark_counts_and_columns(manifest):
    n_subjects = flash.MIN_SUBJECTS
    expected = {t: max(n_subjects, round(v * flash.SEQUENCES_PER_VIDEO * SCALE)) for t, v in flash.VIDEOS.items()}
    assert manifest["attack_type"].value_counts().to_dict() == expected
    assert set(manifest["subset"]) == set(SCENES) and set(manifest["device"]) == set(flash.PHONES)
    assert (manifest["label"] == (manifest["attack_type"] == "none")).all()
    assert ((manifest["path_depth"] != "") == (manifest["label"] == 1)).all()
    assert set(manifest["split"]) == {"train", "dev"}  # dev carved by subject from the all-train manifest


def test_folds_follow_subjects(manifest):
    per_subject = manifest.groupby("subject")["fold"].nunique()
    assert (per_subject == 1).all() and manifest["subject"].nunique() == flash.MIN_SUBJECTS
    assert sorted(manifest["fold"].astype(int).unique()) == list(range(10))
    for fold, rows in manifest.groupby("fold"):
        assert rows["subject"].nunique() >= 2 and set(rows["attack_type"]) == set(flash.VIDEOS), fold


def test_ten_fold_protocols(bench, manifest):
    assert load_benchmark("flash").expand(["F"]) == FOLDS
    tested = []
    for k, name in enumerate(FOLDS):
        data = bench[name]
        for split in ("train", "dev", "test"):
            assert set(data.split(split)["label"]) == {0, 1}, (name, split)
        assert set(data.test["fold"].astype(int)) == {k} and k not in set(data.train["fold"].astype(int))
        assert k not in set(data.dev["fold"].astype(int)) and set(data.test["split"]) <= {"train", "dev"}
        assert not set(data.train["subject"]) & set(data.test["subject"])
        assert data.protocol.threshold_policy == "dev_eer"
        tested += data.test.index.tolist()
    assert sorted(tested) == list(range(len(manifest)))  # every row is tested exactly once, dev rows included


def test_generation_is_deterministic_and_lossless(bench, manifest):
    rows = flash.plan_rows(SCALE, 0)
    assert rows == flash.plan_rows(SCALE, 0)
    root = bench["F1"].manifest.root
    for i in (0, len(rows) - 1):
        a, b = flash.render_row(rows[i], SIZE), flash.render_row(rows[i], SIZE)
        assert a["path"].shape == (8 * SIZE, SIZE, 3) and np.array_equal(a["path"], b["path"])
        assert np.array_equal(np.asarray(Image.open(f"{root}/{manifest.loc[i, 'path']}")), a["path"])


def flash_cfg(**overrides):
    return from_flat({"family": "atr", "atr.image_size": 32, "atr.depth_bins": 256, **overrides})


def dataset(bench, split="test", **overrides):
    data = bench["F3"]
    m = data.manifest
    return make_flash_dataset(flash_cfg(**overrides), data.split(split), m.fs, m.root, split=split,
                              protocol=data.protocol, mean=(0.5,) * 3, std=(0.5,) * 3)


@pytest.mark.parametrize("dn,n0,side", [("dn", 5, 32), ("consecutive", 4, 32), ("off", 8, 32), ("dn", 3, 64)])
def test_dataset_items(bench, dn, n0, side):
    ds, frame = dataset(bench, **{"atr.dn": dn, "atr.n0": n0, "atr.image_size": side}), bench["F3"].test
    spoof, live = int(np.flatnonzero(frame["label"].to_numpy() == 0)[0]), int(np.flatnonzero(frame["label"] == 1)[0])
    for i in (spoof, live):
        inputs, targets, idx = ds[i]
        assert idx == i and inputs["frames"].shape == (frame_count(n0, dn), 3, side, side)
        assert inputs["frames"].abs().max() <= 1 and targets["depth"].shape == (side // 4, side // 4)
        assert targets["depth"].dtype == torch.long and targets["label"] == frame["label"].iloc[i]
    assert (ds[spoof][1]["depth"] == round(255 * SPOOF_DEPTH)).all()
    live_depth = ds[live][1]["depth"]
    assert live_depth.min() == 0 and live_depth.max() > 150  # background far, face near
    assert ds[live][1]["attack_index"] == -1
    assert ds[spoof][1]["attack_index"] == {"print": 0, "replay": 1, "mask3d": 2}[frame["attack_type"].iloc[spoof]]


def test_dataset_off_mode_is_the_raw_selected_frames(bench):
    ds = dataset(bench, **{"atr.dn": "off", "atr.n0": 8, "atr.image_size": SIZE})
    strip = np.asarray(Image.open(ds.paths[0]), dtype=np.float32) / 255
    raw = torch.from_numpy(strip).view(8, SIZE, SIZE, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(ds[0][0]["frames"], raw)  # no mean/std normalisation before or after DN


def test_augmentation_flips_frames_and_depth_together(bench):
    plain = dataset(bench, split="train", **{"data.augment": False})
    aug = dataset(bench, split="train")
    i = int(np.flatnonzero(bench["F3"].train["label"].to_numpy() == 1)[0])
    x, t, _ = plain[i]
    flips = []
    for seed in range(8):
        xa, ta, _ = aug[(i, seed)]
        flipped = torch.equal(xa["frames"], x["frames"].flip(-1))
        assert flipped or torch.equal(xa["frames"], x["frames"])
        assert torch.equal(ta["depth"], t["depth"].flip(-1) if flipped else t["depth"])
        flips.append(flipped)
    assert any(flips) and not all(flips)
    assert torch.equal(plain[(i, 3)][0]["frames"], x["frames"])  # augment off: the seed changes nothing


def test_batches_feed_the_model(bench):
    from torch.utils.data import DataLoader

    from pad_core.losses.atr import atr_terms
    from pad_core.models.atr import build_atr

    cfg = flash_cfg(**{"atr.width": 8, "atr.levels": 1, "atr.depth_bins": 32})
    m = bench["F3"].manifest
    ds = make_flash_dataset(cfg, bench["F3"].train, m.fs, m.root, split="train", protocol=None, mean=0, std=1)
    inputs, targets, _ = next(iter(DataLoader(ds, batch_size=4, shuffle=True,
                                              generator=torch.Generator().manual_seed(0))))
    out = build_atr(cfg)(inputs)
    terms = atr_terms(out, targets)
    assert out.depth_logits.shape == (4, 6, 32, 8, 8) and all(torch.isfinite(v) for v in terms.values())
