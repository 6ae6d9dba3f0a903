"""MMDG importers (benchmark lists, CASIA-SURF's own layout) and the face-crop step, on generated layout trees:
raw files -> run_import -> manifest -> prepare() of an mmdg protocol; every refusal names its paths."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pad_core.config import DataCfg
from pad_core.data import prepare, read_manifest
from pad_core.data.faces import crop, crop_faces
from pad_core.data.importers import ImportOptions, ImportProblems, load_all, run_import
from pad_core.data.multimodal import MultiModalImages
from pad_core.errors import DataError
from tests.fixtures.layouts.mmdg import blank, mmdg_benchmark, published_p_lists, surf_challenge, write_lists

load_all()
MANIFEST = "padsweep_manifest.parquet"


def options(root: Path, **kw) -> ImportOptions:
    return ImportOptions(out=root / MANIFEST, **kw)


def imported(root: Path, name: str = "mmdg", **kw) -> pd.DataFrame:
    return run_import(name, root, options(root, **kw))


def refused(root: Path, name: str = "mmdg", **kw) -> str:
    with pytest.raises(DataError) as err:
        imported(root, name, **kw)
    return str(err.value)


def report(root: Path) -> str:
    return (root / "padsweep_manifest.problems.txt").read_text()


@pytest.fixture
def bench(tmp_path) -> tuple[Path, dict[str, list[str]]]:
    return tmp_path, mmdg_benchmark(tmp_path)


def edit_list(root: Path, lists: dict[str, list[str]], name: str, index: int, line: str | None) -> None:
    """Replace (or with None delete) one line of a list and rewrite it as published (CRLF)."""
    lines = list(lists[name])
    if line is None:
        del lines[index]
    else:
        lines[index] = line
    write_lists(root / "MMDG-Benchmark", {name: lines})


def test_benchmark_lists_import_to_an_aligned_manifest_that_prepares(bench):
    root, lists = bench
    frame = imported(root)
    assert len(frame) == sum(len(v) for v in lists.values())
    assert set(frame["subset"]) == set("CPSW") and set(frame["split"]) == {"train", "dev", "test"}
    assert (frame[["path", "path_depth", "path_ir"]] != "").all().all()
    row = frame.set_index("path").loc["CeFA/CeFA-Race/AF/AF-000/1_000_3_1_4/profile/0026.jpg"]
    assert (row["subject"], row["attack_type"], row["pai"], row["label"], row["split"]) == (
        "C/AF-000", "replay", "screen", 0, "train")
    assert row["path_ir"] == "CeFA/CeFA-Race/AF/AF-000/1_000_3_1_4/ir/0026.jpg"
    by_subset = frame.groupby("subset")
    assert set(by_subset.get_group("S")["subject"]) == {"S/CLKJ_AS0005", "S/CLKJ_BS0010", "S/CLKJ_AS0010",
                                                         "S/CLKJ_AS0002"}
    w = by_subset.get_group("W").set_index("pai")
    assert w.loc["3_01", "attack_type"] == "print" and w.loc["2_81", "attack_type"] == "flexiblemask"
    assert set(by_subset.get_group("P")["subject"]) == {""}  # hashed names carry no identity
    assert frame.loc[frame["subset"] == "C", "attack_type"].str.contains("mask").any()
    for protocol in ("P1.W", "P2.C.no_ir", "P3.PS"):
        data = prepare(DataCfg(manifest=str(root / MANIFEST), benchmark="mmdg", protocol=protocol))
        assert set(data.test["label"]) == {0, 1} and set(data.train["label"]) == {0, 1}


def test_a_tab_separated_empty_depth_field_is_an_absent_modality(bench):
    root, lists = bench
    rgb, _, ir, label = lists["W-test.txt"][0].split()
    (root / rgb.replace("/color/", "/depth/")).unlink()
    edit_list(root, lists, "W-test.txt", 0, f"{rgb}\t\t{ir}\t{label}")
    frame = imported(root).set_index("path")
    assert frame.loc[rgb, "path_depth"] == "" and frame.loc[rgb, "path_ir"] == ir
    manifest = read_manifest(str(root / MANIFEST))
    row = manifest.frame[manifest.frame["path"] == rgb]
    items = MultiModalImages(row, manifest.fs, manifest.root, image_size=32, mean=(0.5,) * 3, std=(0.5,) * 3,
                             augment=False)
    assert int(items[0][0]["missing"]) == 4 and (items[0][0]["modalities"][2] == 0).all()  # depth = bit 2


@pytest.mark.parametrize("case", ["missing_depth", "unknown_label", "label_contradicts_name", "depth_of_another_video",
                                  "wrong_field_count", "unnamed_frame", "missing_list"])
def test_list_problems_are_refused_with_their_paths(bench, case):
    root, lists = bench
    rgb, depth, ir, label = lists["C-train.txt"][0].split()
    other_depth = lists["C-train.txt"][2].split()[1]
    line, expect = {
        "missing_depth": (f"{rgb} {depth}.gone {ir} {label}", f"{depth}.gone"),
        "unknown_label": (f"{rgb} {depth} {ir} live", "'live'"),
        "label_contradicts_name": (f"{rgb} {depth} {ir} 0", "the name says 1"),
        "depth_of_another_video": (f"{rgb} {other_depth} {ir} {label}", "not in the RGB frame's video folder"),
        "wrong_field_count": (f"{rgb} {label}", "2 fields"),
        "unnamed_frame": (None, "not named as C names its frames"),
        "missing_list": (None, "C-train.txt (the MMDG list of C train)"),
    }[case]
    if case == "unnamed_frame":
        moved = "CeFA/elsewhere/0026.jpg"
        (root / moved).parent.mkdir(parents=True)
        (root / rgb).rename(root / moved)
        line = f"{moved} {depth} {ir} {label}"
    if case == "missing_list":
        (root / "MMDG-Benchmark" / "C-train.txt").unlink()
    else:
        edit_list(root, lists, "C-train.txt", 0, line)
    message = refused(root)
    assert expect in message and "MMDG-Benchmark/C-train.txt" in message
    assert expect in report(root)


def test_files_in_no_list_are_unknown_unless_skipped(bench):
    root, lists = bench
    stray = root / "CeFA/CeFA-Race/AF/AF-000/1_000_1_1_1/profile/0099.jpg"
    Image.fromarray(blank()).save(stray)
    assert str(stray) in refused(root) and "--skip-unknown" in refused(root)
    frame = imported(root, skip_unknown=True)
    assert "CeFA/CeFA-Race/AF/AF-000/1_000_1_1_1/profile/0099.jpg" not in set(frame["path"])
    assert str(stray) in report(root)


def test_published_npz_p_lists_are_refused_with_the_conversion_fix(bench):
    root, _ = bench
    published_p_lists(root)
    message = refused(root)
    assert "P-train.txt:1: zc7db0ae.npz is an MMDG .npz file" in message
    assert "'<rgb> <depth> <ir> <label>'" in message


def test_a_line_in_two_lists_is_reported_as_in_the_published_c_lists(bench):
    """The published C-val.txt repeats a C-test.txt line (AF-300 0026.jpg): the repeat is reported with both
    places (there, AF-300's other test frames also put the subject on both sides of the split)."""
    root, lists = bench
    edit_list(root, lists, "C-val.txt", 1, lists["C-test.txt"][0])
    message = report(root) if refused(root) else ""
    rgb = lists["C-test.txt"][0].split()[0]
    assert f"MMDG-Benchmark/C-test.txt:1: {root / rgb} is also listed at MMDG-Benchmark/C-val.txt:2" in message


@pytest.mark.parametrize("name", ["cefa", "wmca", "padisi-face"])
def test_sets_with_unconfirmed_layouts_refuse_and_point_at_the_mmdg_lists(tmp_path, name):
    message = refused(tmp_path, name)
    assert "not supported" in message and "python -m pad_core import mmdg ROOT" in message


def test_casia_surf_challenge_layout(tmp_path):
    lists = surf_challenge(tmp_path)
    frame = imported(tmp_path, "casia-surf").set_index("path")
    assert len(frame) == sum(len(v) for v in lists.values())
    assert frame.loc["Training/fake_part/CLKJ_AS0005/04_en_b.rssdk/color/31.jpg", ["subject", "attack_type", "label"]
                     ].tolist() == ["S/CLKJ_AS0005", "print", 0]
    val = frame[frame["split"] == "dev"]
    assert set(val["subject"]) == {""} and set(val["label"]) == {0, 1}  # anonymised: labels from the list
    assert frame.loc["Testing/0001/000001-color.jpg", "path_ir"] == "Testing/0001/000001-ir.jpg"


def test_casia_surf_refusals_name_lists_and_frames(tmp_path):
    lists = surf_challenge(tmp_path)
    (tmp_path / "test_private_list.txt").unlink()
    first = lists["train_list.txt"][0].split()
    wrong_ir = lists["train_list.txt"][2].split()[2]
    (tmp_path / "train_list.txt").write_text(f"{first[0]} {first[1]} {wrong_ir} 1\n" +
                                             "\n".join(lists["train_list.txt"][1:]) + "\n")
    message = refused(tmp_path, "casia-surf")
    assert f"{tmp_path / 'test_private_list.txt'} (the labelled test list)" in message
    assert f"train_list.txt:1: {wrong_ir} is not the ir frame of {first[0]}" in message
    assert "Testing/0000/000000-color.jpg" in report(tmp_path)  # its frames are now in no labelled list


# ---- faces ------------------------------------------------------------------------------------------------


def test_haar_crops_every_modality_with_the_rgb_box_and_caches_by_settings(bench):
    root, _ = bench
    frame = imported(root, faces="haar", crop_size=64)
    assert frame["path"].str.startswith("padsweep_import/crops/haar-").all()
    assert (frame["face_box"] != "").all()
    assert frame["face_source"].str.startswith(("CeFA", "CASIA", "WMCA", "PAD")).all()
    row = frame.iloc[0]
    depth = cv2.imread(str(root / row["path_depth"]), cv2.IMREAD_UNCHANGED)
    original = cv2.imread(str(root / row["face_source"].replace("/profile/", "/depth/")), cv2.IMREAD_UNCHANGED)
    box = tuple(int(v) for v in row["face_box"].split(","))
    assert depth.shape == (64, 64)
    np.testing.assert_array_equal(depth, crop(original, box, options(root, crop_size=64, faces="haar")))
    crops = {p: p.stat().st_mtime_ns for p in (root / "padsweep_import/crops").rglob("*.png")}
    again = imported(root, faces="haar", crop_size=64)
    pd.testing.assert_frame_equal(again, frame)
    assert {p: p.stat().st_mtime_ns for p in (root / "padsweep_import/crops").rglob("*.png")} == crops  # reused
    wider = imported(root, faces="haar", crop_size=64, face_margin=0.4)
    assert wider["path"].str.split("/").str[2].nunique() == 1
    assert wider["path"].iloc[0].split("/")[2] != row["path"].split("/")[2]  # new settings, new crops


def test_haar_refuses_an_image_without_a_face_with_the_pre_cropping_fix(bench):
    root, lists = bench
    rgb = lists["S-val.txt"][0].split()[0]
    Image.fromarray(np.stack([blank()] * 3, -1)).save(root / rgb)
    message = refused(root, faces="haar")
    assert f"{root / rgb}: the haar detector found no face" in message
    assert "crop the faces yourself and import the crops with --faces none" in message
    assert str(root / rgb) in report(root)


def test_shipped_faces_without_boxes_and_unknown_steps_are_refused(bench):
    root, _ = bench
    message = refused(root, faces="shipped")
    assert "the mmdg importer reads no shipped face boxes: none of the MMDG sets ships face boxes" in message
    assert "--faces haar" in message and not (root / "padsweep_import").exists()  # refused before the scan
    assert "['none', 'shipped', 'haar']" in refused(root, faces="mtcnn")


def test_shipped_box_crop_geometry_and_modality_size_check(tmp_path):
    xs, ys = np.meshgrid(np.arange(40, dtype=np.uint8), np.arange(30, dtype=np.uint8))
    rgb = np.stack([xs, ys, np.full_like(xs, 7)], -1)
    for name, pixels in (("a.png", rgb), ("a_ir.png", xs), ("b.png", rgb), ("b_ir.png", xs[:20])):
        cv2.imwrite(str(tmp_path / name), pixels)
    rows = [{"path": str(tmp_path / "a.png"), "path_ir": str(tmp_path / "a_ir.png"), "face_box": "10,5,20,15"}]
    opts = ImportOptions(out=tmp_path / MANIFEST, faces="shipped", face_margin=0.5, crop_size=0)
    (out,) = crop_faces(rows, opts, tmp_path, ImportProblems())
    face = cv2.imread(out["path"], cv2.IMREAD_UNCHANGED)
    ir = cv2.imread(out["path_ir"], cv2.IMREAD_UNCHANGED)
    assert face.shape == (20, 20, 3) and ir.shape == (20, 20)  # 10 px box + 50 % margin each side
    np.testing.assert_array_equal(face[:, :, 0], xs[0:20, 5:25])  # x 5..25, y 0..20: the box's centre kept
    np.testing.assert_array_equal(ir, xs[0:20, 5:25])
    edge = crop(rgb, (0, 0, 10, 10), opts)  # margin leaves the image: black there, never shifted
    assert edge.shape == (20, 20, 3) and (edge[:5, :, :] == 0).all() and edge[5, 5, 0] == 0 and edge[5, 6, 0] == 1
    bad = [{"path": str(tmp_path / "b.png"), "path_ir": str(tmp_path / "b_ir.png"), "face_box": "10,5,20,15"}]
    problems = ImportProblems()  # collected; run_import refuses them with the rest (the haar test above)
    assert crop_faces(bad, opts, tmp_path, problems) == []
    assert len(problems.no_face) == 1 and "not the RGB image's size 40x30" in problems.no_face[0]


def test_mmdg_protocols_select_exactly_the_sets_the_importer_writes():
    from pad_core.data import load_benchmark
    from pad_core.data.importers.mmdg_lists import SETS

    bench = load_benchmark("mmdg")
    selected = {s for p in bench.protocols.values() for part in (p.train, p.test) for s in part["subset"]}
    assert selected == set(SETS)
