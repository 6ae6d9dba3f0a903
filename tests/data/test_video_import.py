"""Video frame sampling, the JFSFDB importer and the screen-flash importer: raw files in the published (or, for
flash, padsweep's own) layout -> manifest -> prepare(); each refusal names the paths at fault."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pad_core.config import DataCfg, from_flat
from pad_core.data import checks, prepare
from pad_core.data.flash import make_flash_dataset, strip_frames
from pad_core.data.importers import ImportOptions, load_all, run_import
from pad_core.data.manifest import carve_dev
from pad_core.data.protocols import load_benchmark
from pad_core.data.video import FrameSampling, decode_frames, header_frame_count, sample_indices, sample_video
from pad_core.errors import DataError
from tests.fixtures.layouts import flash as flash_layout
from tests.fixtures.layouts import jfsfdb as jfsfdb_layout

load_all()
pytestmark = pytest.mark.usefixtures("one_thread")


def grey_index(png: Path, step: int) -> int:
    """The frame index a fixture frame encodes as its grey level (step * index, plus a pattern of < 40)."""
    return int(round((np.asarray(Image.open(png), dtype=float).mean() - 20) / step))


def opts(root: Path, **kw) -> ImportOptions:
    return ImportOptions(out=root / "padsweep_manifest.parquet", **{"frames_per_video": 4, "crop_size": 16, **kw})


# ---- frame sampling --------------------------------------------------------------------------------------------
def test_sample_indices_one_per_interval_seeded_by_video():
    picks = sample_indices(100, 8, seed=0, video="a.mp4")
    assert [p // 12.5 for p in picks] == list(range(8))  # one frame inside each of the 8 equal intervals
    assert picks == sample_indices(100, 8, seed=0, video="a.mp4")  # deterministic for (seed, video)
    assert picks != sample_indices(100, 8, seed=1, video="a.mp4") != sample_indices(100, 8, seed=0, video="b.mp4")
    assert sample_indices(5, 8, seed=0, video="a.mp4") == [0, 1, 2, 3, 4]  # short video: every frame
    offsets = np.array([sample_indices(1000, 10, seed=s, video="v") for s in range(300)]) % 100
    assert abs(offsets.mean() - 49.5) < 4 and offsets.min() < 5 and offsets.max() > 94  # uniform inside intervals


@pytest.mark.parametrize("suffix,codec", [(".mp4", "mpeg4"), (".mkv", "mpeg4"), (".mov", "libx264")])
def test_sampled_frames_are_the_frames_named(tmp_path, suffix, codec):
    video = jfsfdb_layout.write_video(tmp_path / f"v{suffix}", frames=12, codec=codec)
    sampled = sample_video(video, f"v{suffix}", tmp_path / "out", FrameSampling(4, 0, 16))
    assert sampled.total == 12 and [i for i, _ in sampled.frames] == sample_indices(12, 4, 0, f"v{suffix}")
    for index, png in sampled.frames:
        assert grey_index(png, 10) == index and Image.open(png).size == (16, 16)


def test_frame_count_without_or_with_a_wrong_header(tmp_path, monkeypatch):
    """stream.frames may be 0 (Matroska declares none) or wrong: the count comes from decoding."""
    mkv = jfsfdb_layout.write_video(tmp_path / "v.mkv", frames=9)
    assert header_frame_count(mkv) == 0 and decode_frames(mkv, [])[1] == 9
    mp4 = jfsfdb_layout.write_video(tmp_path / "v.mp4", frames=9)
    monkeypatch.setattr("pad_core.data.video.header_frame_count", lambda path: 30)  # a header that overstates
    sampled = sample_video(mp4, "v.mp4", tmp_path / "out", FrameSampling(3, 0, 0))
    assert sampled.total == 9 and [i for i, _ in sampled.frames] == sample_indices(9, 3, 0, "v.mp4")


def test_a_video_without_a_declared_count_is_decoded_once(tmp_path, monkeypatch):
    """Matroska declares no count: the duration x frame-rate estimate picks the frames in one decode (counting by a
    first full decode doubled the import's decoding), and a wrong estimate is corrected by that decode."""
    from pad_core.data import video

    calls = []
    decode = video.decode_frames
    monkeypatch.setattr(video, "decode_frames", lambda *a: calls.append(a) or decode(*a))
    mkv = jfsfdb_layout.write_video(tmp_path / "v.mkv", frames=9)
    assert video.header_frame_count(mkv) == 0 and video.expected_frame_count(mkv) == 9
    sampled = sample_video(mkv, "v.mkv", tmp_path / "out", FrameSampling(3, 0, 0))
    assert len(calls) == 1 and [i for i, _ in sampled.frames] == sample_indices(9, 3, 0, "v.mkv")


def test_a_phone_video_is_turned_upright(tmp_path):
    """A display rotation (phone captures: the sensor's orientation plus a rotation flag) is applied, as players do."""
    import av

    with av.open(str(tmp_path / "r.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        stream.set_display_rotation(90)  # shown turned 90 degrees counter-clockwise
        img = np.zeros((16, 32, 3), np.uint8)
        img[:, :8] = 255  # a white band on the left
        for _ in range(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    found, total = decode_frames(tmp_path / "r.mp4", [0])
    shown = np.asarray(found[0], dtype=float).mean(axis=(1, 2))
    assert found[0].size == (16, 32) and total == 3 and shown[-8:].min() > 200 and shown[:8].max() < 50  # band: bottom


def test_frames_are_cached_by_settings(tmp_path):
    video = jfsfdb_layout.write_video(tmp_path / "v.mp4")
    first = sample_video(video, "v.mp4", tmp_path / "out", FrameSampling(4, 0, 16))
    stamps = [p.stat().st_mtime_ns for _, p in first.frames]
    again = sample_video(video, "v.mp4", tmp_path / "out", FrameSampling(4, 0, 16))
    assert again == first and [p.stat().st_mtime_ns for _, p in again.frames] == stamps  # reused, not rewritten
    other = sample_video(video, "v.mp4", tmp_path / "out", FrameSampling(4, 1, 16))
    assert other.frames[0][1].parent != first.frames[0][1].parent  # another seed: another folder


def test_a_replaced_video_is_sampled_again(tmp_path):
    video = jfsfdb_layout.write_video(tmp_path / "v.mp4", frames=12)
    assert sample_video(video, "v.mp4", tmp_path / "out", FrameSampling(4, 0, 16)).total == 12
    jfsfdb_layout.write_video(video, frames=6)  # a re-download with other content under the same name
    again = sample_video(video, "v.mp4", tmp_path / "out", FrameSampling(4, 0, 16))
    assert again.total == 6 and sorted(again.frames[0][1].parent.glob("*.png")) == sorted(p for _, p in again.frames)


def test_dev_is_carved_for_subsets_without_their_own():
    """FF++ ships a val split, SiW does not: SiW used to get no dev at all once any subset had one."""
    rows = [{"subset": s, "subject": f"{s}{i}", "split": split, "label": i % 2}
            for s, splits in (("FF++", ("train", "dev")), ("SiW", ("train",))) for i in range(20) for split in splits]
    carved = carve_dev(pd.DataFrame(rows), 0.25, seed=0, policy=load_benchmark("jfsfdb").carve_dev)
    siw = carved[carved["subset"] == "SiW"]
    assert siw.groupby("split")["subject"].nunique().to_dict() == {"dev": 5, "train": 15}
    assert carved[carved["subset"] == "FF++"]["split"].value_counts().to_dict() == {"train": 20, "dev": 20}


# ---- JFSFDB ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def jfsfdb_root(tmp_path_factory):
    root = jfsfdb_layout.build(tmp_path_factory.mktemp("jfsfdb"))
    return root, run_import("jfsfdb", root, opts(root))


def test_jfsfdb_manifest_follows_each_member_set(jfsfdb_root):
    root, frame = jfsfdb_root
    videos = frame.drop_duplicates("video").set_index("video")
    assert (frame.groupby("video").size() == 4).all() and len(videos) == 16 + 16 + 12 + 12 + 6 + 4
    assert videos.loc["SiW/Test/spoof/006/006-1-3-2-1.mov", ["split", "attack_type", "subject", "label"]].tolist() \
        == ["test", "replay", "SiW:006", 0]
    msu = videos[videos["subset"] == "MSU-MFSD"]
    assert set(msu.loc[msu["split"] == "train", "subject"]) == {"MSU-MFSD:002", "MSU-MFSD:003"}
    assert set(msu["attack_type"]) == {"none", "print", "replay"}
    rose = videos[videos["subset"] == "ROSE-Youtu"]
    assert rose.loc["ROSE-Youtu/test/_12/Mc_NT_5s_g_E_12_1.mp4", ["split", "attack_type", "subject", "device"]
                    ].tolist() == ["test", "paper_mask", "ROSE-Youtu:012", "rose-5s"]
    assert set(rose["attack_type"]) == {"none", "print", "replay", "paper_mask"}
    ff = videos[videos["subset"] == "FF++"]
    assert ff.groupby("split").size().to_dict() == {"dev": 4, "test": 4, "train": 4}
    assert videos.loc["FF++/manipulated_sequences/FaceSwap/c23/videos/003_002.mp4", "split"] == "dev"
    celeb = videos[videos["subset"] == "Celeb-DF"]
    assert sorted(celeb.index[celeb["split"] == "test"]) == sorted(
        "Celeb-DF/" + line.split()[1] for line in jfsfdb_layout.CELEB_TEST)
    assert (celeb["subject"] == "").all() and "Celeb-DF:id1" in set(celeb["identity"])
    assert videos.loc["DFDC/dfdc_train_part_0/bbb.mp4", "subject"] == "DFDC:aaa"  # a fake shares its source


def test_jfsfdb_manifest_prepares_the_paper_protocols(jfsfdb_root):
    root, _ = jfsfdb_root
    uri = str(root / "padsweep_manifest.parquet")
    # the importer refuses 3DMAD, HKBU-MARs and 3DMask, and the fixture's DFDC has no test videos: the paper's
    # protocols are refused as such, and run on the rest only when asked, with the absent sets in the notes
    with pytest.raises(DataError, match=r"train: subset \['3DMAD', 'HKBU-MARs'\].*test: subset \['3DMAD', "
                                        r"'HKBU-MARs'\].*allow_missing_values"):
        prepare(DataCfg(manifest=uri, benchmark="jfsfdb", protocol="joint.intra"))
    intra = prepare(DataCfg(manifest=uri, benchmark="jfsfdb", protocol="joint.intra", allow_missing_values=True))
    assert set(intra.train["subset"]) == {"SiW", "FF++"} and set(intra.test["split"]) == {"test"}
    assert any("train: subset ['3DMAD', 'HKBU-MARs']" in note for note in intra.notes)
    cross = prepare(DataCfg(manifest=uri, benchmark="jfsfdb", protocol="joint.cross", allow_missing_values=True),
                    check_files=False)
    assert any("test: subset ['3DMask', 'DFDC']" in note for note in cross.notes)
    assert set(cross.test["subset"]) == {"MSU-MFSD", "ROSE-Youtu", "Celeb-DF"}  # the fixture's DFDC is all train
    assert not set(cross.train["subset"]) & set(cross.test["subset"])


def test_synthetic_jfsfdb_is_scored_per_video(tmp_path, monkeypatch):
    """jfsfdb.json declares score_level video: the synthetic benchmark must carry video ids, or every JFSFDB table
    run on it would be refused (checks.score_level_data)."""
    monkeypatch.setenv("PADSWEEP_CACHE", str(tmp_path))
    data = prepare(DataCfg(manifest="synthetic:jfsfdb", benchmark="jfsfdb", protocol="joint.cross", synth_scale=0.005,
                           synth_size=32))
    assert data.protocol.score_level == "video" and set(data.test["subset"]) == {"MSU-MFSD", "3DMask", "ROSE-Youtu",
                                                                                 "DFDC", "Celeb-DF"}
    assert checks.score_level_data({"dev": data.dev, "test": data.test}, "video", "m", "joint.cross", "k") == []
    assert data.test.groupby("video")["label"].nunique().max() == 1


def refusal(root: Path, **kw) -> str:
    with pytest.raises(DataError) as info:
        run_import("jfsfdb", root, opts(root, **kw))
    return str(info.value)


@pytest.mark.parametrize("damage, expected", [
    (lambda r: (r / "SiW/Train/live/003/notes.txt").write_text("x"),
     r"1 files the layout does not explain.*notes\.txt"),
    (lambda r: (r / "MSU-MFSD/train_sub_list.txt").write_text("002\n003\n009\n"),
     r"protocol entries whose file is missing.*train_sub_list\.txt: client 009 has no video"),
    (lambda r: (r / "FF++/splits/test.json").write_text('[["004", "005"], ["998", "999"]]'),
     r"protocol entries whose file is missing.*video id 998 has no video"),
    (lambda r: jfsfdb_layout.write_video(r / "MSU-MFSD/scene01/attack/attack_client002_laptop_SD_mask_scene01.mov"),
     r"label words the importer does not know.*attack_client002_laptop_SD_mask_scene01\.mov: mask"),
    (lambda r: jfsfdb_layout.write_video(r / "SiW/Train/spoof/003/003-1-4-1-1.mov"),
     r"label words the importer does not know.*003-1-4-1-1\.mov: TypeID 4"),
    (lambda r: (r / "SiW/Test/live/006/006-1-1-1-2.mov").write_bytes(b"not a video" * 50),
     r"other problems.*006-1-1-1-2\.mov: cannot be opened as a video"),
    (lambda r: (r / "3DMAD").mkdir(), r"other problems.*3DMAD: padsweep could not confirm the published layout"),
    (lambda r: jfsfdb_layout.write_video(r / "ROSE-Youtu/test/13/Xx_NT_5s_g_E_13_1.mp4"),
     r"label words the importer does not know.*Xx_NT_5s_g_E_13_1\.mp4: Xx"),
    (lambda r: (r / "CASIA-FASD").mkdir(), r"files the layout does not explain.*CASIA-FASD/: not a JFSFDB member"),
], ids=["unknown file", "missing MSU list entry", "missing FF++ split entry", "unknown MSU attack word",
        "unknown SiW type", "undecodable video", "unconfirmed member set", "unknown ROSE-Youtu code",
        "unknown member set"])
def test_jfsfdb_refusals_name_the_paths(tmp_path, damage, expected):
    root = jfsfdb_layout.build(tmp_path, members=("SiW", "MSU-MFSD", "ROSE-Youtu", "FF++"))
    damage(root)
    message = refusal(root)
    assert re.search(expected, message), message
    assert "Fix:" in message and (root / "padsweep_manifest.problems.txt").is_file()


def test_jfsfdb_rerun_with_a_custom_manifest_name(tmp_path):
    root = jfsfdb_layout.build(tmp_path, members=("DFDC",))
    options = ImportOptions(out=root / "jfsfdb.csv", frames_per_video=2, crop_size=16)
    assert len(run_import("jfsfdb", root, options)) == len(run_import("jfsfdb", root, options)) == 8


def test_jfsfdb_cli_refuses_in_seconds(tmp_path):
    root = jfsfdb_layout.build(tmp_path, members=("SiW",))
    (root / "SiW/Train/live/003/notes.txt").write_text("x")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pad_core", "import", "jfsfdb", str(root)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "notes.txt" in done.stderr
    assert "Traceback" not in done.stderr and time.monotonic() - started < 60


# ---- screen flash ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flash_root(tmp_path_factory):
    root = flash_layout.build(tmp_path_factory.mktemp("flash"))
    return root, run_import("flash", root, opts(root, frames_per_video=8))


def test_flash_import_keeps_extremes_in_flash_order(flash_root):
    root, frame = flash_root
    assert len(frame) == 40 and sorted(frame["fold"].unique()) == list(range(10))
    assert set(frame["frames"]) == {8, 5} and ((frame["path_depth"] != "") == (frame["label"] == 1)).all()
    row = frame[(frame["capture"] == "live/u00/c0")].iloc[0]  # 12 frames (0.png .. 11.png) -> 8 kept
    strip = np.asarray(Image.open(root / row["path"]), dtype=float)
    levels = [round(strip[i * 16:(i + 1) * 16].mean() / 20) for i in range(8)]
    assert levels == [0, 2, 3, 5, 6, 8, 9, 11] and strip.shape == (8 * 16, 16, 3)  # natural order, both ends
    video = frame[frame["capture"] == "replay/u00/c0"].iloc[0]
    assert video["frames"] == 5 and Image.open(root / video["path"]).size == (16, 5 * 16)  # a 5-frame video


def test_flash_rerun_with_a_custom_manifest_name_and_skip_unknown(tmp_path):
    """A rerun reads neither its own manifest nor its report as captures; --skip-unknown leaves a stray file out."""
    root = flash_layout.build(tmp_path, subjects=2)
    (root / "print/u01/c0/notes.txt").write_text("x")
    options = ImportOptions(out=root / "flash.csv", frames_per_video=4, crop_size=16, skip_unknown=True)
    first = run_import("flash", root, options)
    again = run_import("flash", root, options)
    assert len(first) == len(again) == 8 and not first["path"].str.contains("notes").any()


def test_flash_manifest_runs_a_fold_and_refuses_a_short_sequence(flash_root):
    root, _ = flash_root
    data = prepare(DataCfg(manifest=str(root / "padsweep_manifest.parquet"), benchmark="flash", protocol="F1"))
    m = data.manifest

    def build(n0):
        cfg = from_flat({"family": "atr", "atr.image_size": 16, "atr.depth_bins": 16, "atr.n0": n0})
        return make_flash_dataset(cfg, data.test, m.fs, m.root, split="test", protocol=None, mean=0, std=1)

    inputs, targets, _ = build(5)[0]
    assert inputs["frames"].shape == (6, 3, 16, 16) and targets["depth"].shape == (4, 4)
    with pytest.raises(DataError, match=r"atr.n0=6.*have fewer frames than n0.*c0\.png"):
        build(6)  # 5-frame captures in the fold: refused when the datasets are built (the sweep's preflight)


def test_flash_strip_without_frames_column_is_checked_when_read():
    strip = np.zeros((4 * 8, 8, 3), np.uint8)
    assert strip_frames(strip, "a.png", 4).shape == (4, 3, 8, 8)
    with pytest.raises(DataError, match=r"a\.png holds 4 flash frames, fewer than n0"):
        strip_frames(strip, "a.png", 5)
    with pytest.raises(DataError, match=r"not a stack of square frames"):
        strip_frames(np.zeros((30, 8, 3), np.uint8), "b.png", 3)


@pytest.mark.parametrize("damage, expected", [
    (lambda r: flash_layout.frame_folder(r / "print/u03/c1", 2, seed=1),
     r"other problems.*print/u03/c1: 2 flash frames; differential normalisation needs at least 3"),
    (lambda r: (r / "live/u01/c0/depth.png").unlink(), r"missing.*live/u01/c0: a live capture without its depth"),
    (lambda r: flash_layout.frame_folder(r / "silicone/u01/c0", 4, seed=2), r"label words.*silicone/u01/c0/0\.png"),
    (lambda r: (r / "replay/u00/c0.mp4").write_bytes(b"junk" * 100), r"other problems.*c0\.mp4: cannot be opened"),
    (lambda r: flash_layout.frame_folder(r / "replay/u00/c0", 4, seed=3),
     r"other problems.*replay/u00/c0: both a frame folder and a video c0\.mp4"),
    (lambda r: (r / "print/u01/c0/notes.txt").write_text("x"), r"files the layout does not explain.*notes\.txt"),
], ids=["too few frames", "missing depth", "unknown species", "undecodable video", "folder and video",
        "unknown file"])
def test_flash_refusals_name_the_paths(tmp_path, damage, expected):
    root = flash_layout.build(tmp_path, subjects=4)
    damage(root)
    with pytest.raises(DataError) as info:
        run_import("flash", root, opts(root))
    assert re.search(expected, str(info.value)), str(info.value)
