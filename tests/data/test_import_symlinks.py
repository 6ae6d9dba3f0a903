"""Datasets spread over several disks are linked into one ROOT: a linked folder is read like a real one, a folder
reached twice (a loop, two links to one download) is refused by path, and a listed file the walk never reaches is
reported, never dropped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pad_core.data.importers import ImportOptions, load_all, run_import
from pad_core.errors import DataError
from tests.fixtures.layouts import irisgeneral as iris_layout
from tests.fixtures.layouts import jfsfdb as jfsfdb_layout
from tests.fixtures.layouts import uniattackdata as uad_layout

load_all()
MANIFEST = "padsweep_manifest.parquet"


def link_out(root: Path, rel: str, elsewhere: Path) -> None:
    """Move ROOT/rel to another folder (another disk) and leave a symbolic link in its place."""
    target = elsewhere / rel.replace("/", "_")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(root / rel), target)
    (root / rel).symlink_to(target, target_is_directory=True)


def rows_by(frame, column: str) -> dict:
    return frame.groupby(column).size().to_dict()


@pytest.mark.parametrize("name, write, linked, column", [
    ("irisgeneral", iris_layout.write, "ND2013_LG4000", "subset"),
    ("uniattackdata", uad_layout.write, "phase1/p1/train", "split@P1"),
], ids=["irisgeneral subset folder", "uniattackdata train folder"])
def test_a_linked_folder_imports_like_a_real_one(tmp_path, name, write, linked, column):
    plain = run_import(name, write(tmp_path / "plain"), ImportOptions(out=tmp_path / "plain" / MANIFEST))
    root = write(tmp_path / "linked")
    link_out(root, linked, tmp_path / "other_disk")
    frame = run_import(name, root, ImportOptions(out=root / MANIFEST))
    assert rows_by(frame, column) == rows_by(plain, column)
    assert sorted(frame["path"]) == sorted(plain["path"])  # paths as reached, under the manifest's folder


def test_a_linked_member_set_of_jfsfdb_imports_like_a_real_one(tmp_path):
    root = jfsfdb_layout.build(tmp_path / "jfsfdb", members=("DFDC",))
    link_out(root, "DFDC/dfdc_train_part_0", tmp_path / "other_disk")
    frame = run_import("jfsfdb", root, ImportOptions(out=root / MANIFEST, frames_per_video=2, crop_size=16))
    assert frame["video"].nunique() == 4 and set(frame["subset"]) == {"DFDC"}


@pytest.mark.parametrize("make", [
    lambda root: (root / "ND2013_LG4000/train/loop").symlink_to(root / "ND2013_LG4000", target_is_directory=True),
    lambda root: (root / "ND2017_LG4000").symlink_to(root / "ND2013_LG4000", target_is_directory=True),
], ids=["loop back to an ancestor", "two subset folders linking one download"])
def test_a_folder_reached_twice_is_refused_by_path(tmp_path, make):
    root = iris_layout.write(tmp_path / "iris")
    shutil.rmtree(root / "ND2017_LG4000", ignore_errors=True)
    make(root)
    with pytest.raises(DataError, match=r"the same folder as .*ND2013_LG4000 \(through a symbolic link\)"):
        run_import("irisgeneral", root, ImportOptions(out=root / MANIFEST))


def test_a_listed_file_the_walk_never_reaches_is_reported(tmp_path):
    """A list line naming a file in a folder the walk skips (hidden) used to drop that file without a word."""
    root = uad_layout.write(tmp_path / "uad")
    hidden = root / "phase1/p1/.cache/000999.jpg"
    hidden.parent.mkdir()
    shutil.copy(next((root / "phase1/p1/train").iterdir()), hidden)
    with (root / "phase1/p1/train_label.txt").open("a") as lst:
        lst.write("p1/.cache/000999.jpg 0\n")
    with pytest.raises(DataError, match=r"protocol entries whose file is missing.*000999\.jpg is listed and exists "
                                        r"but was not reached"):
        run_import("uniattackdata", root, ImportOptions(out=root / MANIFEST))
