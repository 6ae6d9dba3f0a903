"""The importer contract every dataset importer shares (pad_core/data/importers/base.py), on a toy layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from pad_core.data.importers import IMPORTERS, Importer, ImportOptions, register, run_import
from pad_core.data.importers.base import files_under
from pad_core.errors import DataError

WORDS = {"live": 1, "spoof": 0}


def scan_toy(root: Path, options: ImportOptions, problems) -> list[dict]:
    """ROOT/<train|test>/<live|spoof>/<subject>_<n>.png"""
    rows = []
    for f in files_under(root):
        parts = f.relative_to(root).parts
        if len(parts) != 3 or parts[0] not in ("train", "test"):
            problems.unknown_files.append(str(f))
            continue
        if parts[1] not in WORDS:
            problems.unknown_labels.append(f"{f}: {parts[1]}")
            continue
        rows.append({"path": str(f), "label": WORDS[parts[1]], "attack_type": "print" if parts[1] == "spoof" else
                     "none", "subset": "toy", "device": "cam", "split": parts[0], "subject": f.stem.split("_")[0]})
    return rows


if "toy-layout" not in IMPORTERS:
    register(Importer("toy-layout", "irisgeneral", "ROOT/<train|test>/<live|spoof>/<subject>_<n>.png", "this test",
                      scan_toy))


def tree(root: Path, files: list[str]) -> Path:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (24, 24), (len(rel) * 7 % 255, 40, 90)).save(root / rel)
    return root


GOOD = ["train/live/s1_0.png", "train/spoof/s1_1.png", "test/live/s2_0.png", "test/spoof/s2_1.png"]


def test_a_clean_tree_becomes_a_manifest_with_paths_relative_to_its_folder(tmp_path):
    root = tree(tmp_path / "ds", GOOD)
    frame = run_import("toy-layout", root, ImportOptions(out=root / "m.csv"))
    written = pd.read_csv(root / "m.csv", dtype=str, keep_default_na=False)
    assert sorted(written["path"]) == sorted(GOOD)
    assert list(frame.columns[:7]) == ["path", "label", "attack_type", "subset", "device", "split", "subject"]


@pytest.mark.parametrize("extra, kind", [
    (["notes/readme.png"], "files the layout does not explain"),
    (["train/mask/s1_2.png"], "label words the importer does not know"),
    (["test/live/s1_5.png"], "subjects on both sides of a split"),
])
def test_every_kind_of_problem_is_refused_with_its_paths_and_a_report(tmp_path, extra, kind):
    root = tree(tmp_path / "ds", GOOD + extra)
    with pytest.raises(DataError) as err:
        run_import("toy-layout", root, ImportOptions(out=root / "m.parquet"))
    message = str(err.value)
    assert kind in message and Path(extra[0]).name in message
    report = (root / "m.problems.txt").read_text()
    assert Path(extra[0]).name in report
    assert not (root / "m.parquet").exists(), "nothing is written when the import is refused"


def test_skip_unknown_leaves_unknown_files_out_but_lists_them(tmp_path):
    root = tree(tmp_path / "ds", GOOD + ["notes/readme.png"])
    frame = run_import("toy-layout", root, ImportOptions(out=root / "m.parquet", skip_unknown=True))
    assert len(frame) == len(GOOD)
    with pytest.raises(DataError, match="label words"):  # --skip-unknown never skips anything else
        run_import("toy-layout", tree(root, ["train/mask/s9_0.png"]),
                   ImportOptions(out=root / "m.parquet", skip_unknown=True))


def test_a_manifest_outside_the_data_folder_is_refused_with_the_fix(tmp_path):
    root = tree(tmp_path / "ds", GOOD)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(DataError, match="does not hold"):
        run_import("toy-layout", root, ImportOptions(out=tmp_path / "elsewhere" / "m.csv"))


@pytest.mark.parametrize("name, out, match", [("toy-layout", "m.txt", "format"), ("no-such", "m.csv", "unknown")])
def test_bad_arguments_are_refused(tmp_path, name, out, match):
    root = tree(tmp_path / "ds", GOOD)
    with pytest.raises(Exception, match=match):
        run_import(name, root, ImportOptions(out=root / out))


def test_an_unknown_face_step_is_refused_before_the_tree_is_scanned(tmp_path):
    root = tree(tmp_path / "ds", GOOD + ["notes/readme.png"])  # the scan would report an unknown file
    with pytest.raises(DataError, match="not a face step"):
        run_import("toy-layout", root, ImportOptions(out=root / "m.csv", faces="retina"))
    assert not (root / "m.problems.txt").exists()


@pytest.mark.parametrize("out", ["m.csv", "other_name.parquet"])
def test_a_rerun_does_not_count_its_own_manifest_and_report_as_unknown_files(tmp_path, out):
    root = tree(tmp_path / "ds", GOOD)
    (root / (Path(out).stem + ".problems.txt")).touch()  # an earlier refused run's report
    for _ in range(2):
        frame = run_import("toy-layout", root, ImportOptions(out=root / out))
    assert len(frame) == len(GOOD)
