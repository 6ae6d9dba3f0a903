"""What the importers cache and what they refuse about faces and FF++ compressions.

- Face crops are reused only when every input is unchanged: the shipped box and each file column's path, size and
  modification time (a corrected box or a replaced depth/IR file used to return the old crop).
- Video frames (and flash strips) are cached per dataset root: two roots imported into one manifest folder have
  videos with the same ids, and used to overwrite each other's frames.
- ``--faces shipped`` is refused before the scan by an importer that reads no boxes, saying what the dataset ships.
- FF++ with several compressions would import each clip once per compression: refused, naming the folders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pad_core.data.faces import crop_faces
from pad_core.data.importers import ImportOptions, ImportProblems, load_all, run_import
from pad_core.errors import DataError
from tests.fixtures.layouts import flash as flash_layout
from tests.fixtures.layouts import jfsfdb as jfsfdb_layout

load_all()
MANIFEST = "padsweep_manifest.parquet"


def gradient(tmp_path: Path, name: str, offset: int) -> Path:
    xs, ys = np.meshgrid(np.arange(40, dtype=np.uint8), np.arange(30, dtype=np.uint8))
    cv2.imwrite(str(tmp_path / name), (xs + ys + offset).astype(np.uint8))
    return tmp_path / name


def replace_file(path: Path, write) -> None:
    """Write new content under the same name, with a later modification time (as a re-download would)."""
    before = path.stat().st_mtime_ns
    write()
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_face_crop_is_redone_when_its_box_or_any_file_changes(tmp_path):
    rgb, ir = gradient(tmp_path, "a.png", 0), gradient(tmp_path, "a_ir.png", 100)
    opts = ImportOptions(out=tmp_path / MANIFEST, faces="shipped", face_margin=0.0, crop_size=0)

    def crops(box: str) -> tuple[np.ndarray, np.ndarray, str]:
        (row,) = crop_faces([{"path": str(rgb), "path_ir": str(ir), "face_box": box}], opts, tmp_path,
                            ImportProblems())
        return cv2.imread(row["path"], cv2.IMREAD_UNCHANGED), cv2.imread(row["path_ir"], cv2.IMREAD_UNCHANGED), \
            row["face_box"]

    face, ir_face, box = crops("10,5,20,15")
    assert box == "10,5,20,15" and face[0, 0] == 15
    face, ir_face, box = crops("0,0,10,10")  # a corrected box: the old crop came back before
    assert box == "0,0,10,10" and face[0, 0] == 0 and ir_face[0, 0] == 100
    replace_file(ir, lambda: gradient(tmp_path, "a_ir.png", 50))  # a replaced IR file under the same RGB image
    _, ir_face, _ = crops("0,0,10,10")
    assert ir_face[0, 0] == 50


def test_video_frames_of_two_roots_in_one_manifest_folder_are_kept_apart(tmp_path):
    roots = [jfsfdb_layout.build(tmp_path / name, members=("DFDC",)) for name in ("download_a", "download_b")]
    frames = [run_import("jfsfdb", root, ImportOptions(out=tmp_path / f"{root.name}.parquet", frames_per_video=2,
                                                       crop_size=16)) for root in roots]
    a, b = (set(f["path"]) for f in frames)
    assert set(frames[0]["video"]) == set(frames[1]["video"])  # the same ids under both roots
    assert not a & b  # ... but each root's own frames
    first = frames[0].iloc[0]
    decoded = cv2.imread(str(tmp_path / first["path"]))
    again = run_import("jfsfdb", roots[0], ImportOptions(out=tmp_path / "download_a.parquet", frames_per_video=2,
                                                         crop_size=16))
    assert again["path"].tolist() == frames[0]["path"].tolist()  # a rerun of one root reuses its own cache
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / first["path"])), decoded)


def test_flash_strips_of_two_roots_in_one_manifest_folder_are_kept_apart(tmp_path):
    roots = [flash_layout.build(tmp_path / name) for name in ("captures_a", "captures_b")]
    paths = [set(run_import("flash", root, ImportOptions(out=tmp_path / f"{root.name}.parquet"))["path"])
             for root in roots]
    assert paths[0] and not paths[0] & paths[1]


def test_faces_shipped_on_jfsfdb_says_what_siw_ships_before_decoding(tmp_path):
    root = jfsfdb_layout.build(tmp_path, members=("SiW",))
    assert list(root.rglob("*.face"))  # the fixture ships SiW's .face files, as the release does
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pad_core", "import", "jfsfdb", str(root), "--faces", "shipped"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    seconds = time.monotonic() - started
    assert done.returncode == 2 and done.stderr.startswith("error: --faces='shipped'"), done.stderr
    assert "SiW and MSU-MFSD ship a .face file" in done.stderr and "does not read them yet" in done.stderr
    assert "--faces haar" in done.stderr and not (root / "padsweep_import").exists() and seconds < 60
    print(f"\n[measure] --faces shipped on jfsfdb refused in {seconds:.2f} s", end="")


def add_compression(root: Path, compression: str) -> None:
    for top in ("original_sequences/youtube", "manipulated_sequences/Deepfakes", "manipulated_sequences/FaceSwap"):
        shutil.copytree(root / "FF++" / top / "c23", root / "FF++" / top / compression)


def test_ff_plus_plus_in_several_compressions_is_refused_naming_the_folders(tmp_path):
    root = jfsfdb_layout.build(tmp_path, members=("FF++",))
    add_compression(root, "c40")
    with pytest.raises(DataError) as info:
        run_import("jfsfdb", root, ImportOptions(out=root / MANIFEST, frames_per_video=2, crop_size=16))
    message = str(info.value)
    assert "videos in 2 compressions ['c23', 'c40'], so each clip would be imported once per compression" in message
    assert str(root / "FF++/original_sequences/youtube/c40") in (root / "padsweep_manifest.problems.txt").read_text()
    assert not (root / "padsweep_import").exists()  # refused before any video is decoded
    for top in ("original_sequences/youtube", "manipulated_sequences/Deepfakes", "manipulated_sequences/FaceSwap"):
        shutil.rmtree(root / "FF++" / top / "c23")  # one compression, whichever: imported once
    frame = run_import("jfsfdb", root, ImportOptions(out=root / MANIFEST, frames_per_video=2, crop_size=16))
    assert frame["video"].nunique() == 6 + 3 + 3 and set(frame["device"]) == {"ff++-c40"}
