"""IrisGeneral and UniAttackData importers: fixture trees in the published layouts -> manifest -> prepare().

The trees are written by tests/fixtures/layouts/{irisgeneral,uniattackdata}.py. Each refusal class (a file the
layout does not explain, a list entry whose file is missing, a label word the importer does not know, a subject or
an image on both sides of a split, an unlabelled split) goes through ``python -m pad_core import`` itself: exit 2,
``error:``, the offending path and ``Fix:``, nothing written, timed for docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pad_core.config import DataCfg
from pad_core.data import prepare
from pad_core.data.importers import IMPORTERS, ImportOptions, load_all, run_import
from pad_core.errors import DataError
from tests.fixtures.layouts import irisgeneral as iris_layout
from tests.fixtures.layouts import uniattackdata as uad_layout

REPO = Path(__file__).resolve().parents[2]
MANIFEST = "padsweep_manifest.parquet"
TIMES: dict[str, float] = {}
load_all()


@pytest.fixture(scope="module", autouse=True)
def print_refusal_times():
    yield
    for name, seconds in TIMES.items():
        print(f"\n[measure] import refused '{name}' in {seconds:.2f} s", end="")


def imported(name: str, root: Path) -> pd.DataFrame:
    return run_import(name, root, ImportOptions(out=root / MANIFEST))


def data_cfg(root: Path, benchmark: str, protocol: str) -> DataCfg:
    return DataCfg(manifest=str(root / MANIFEST), benchmark=benchmark, protocol=protocol, batch_size=4)


# ---------------------------------------------------------------------------------------------------- IrisGeneral


def test_irisgeneral_tree_becomes_a_manifest_of_its_ten_subsets(tmp_path):
    frame = imported("irisgeneral", iris_layout.write(tmp_path / "iris"))
    devices = frame.groupby("subset")["device"].first().to_dict()
    assert devices == {"H": "H100", "Da": "DALSA", "Db": "DALSA", "La": "LG2200", "Lb": "LG2200", "F": "AI1000",
                       "Ga": "LG4000", "Aa": "AD100", "Gb": "LG4000", "Ab": "AD100"}
    assert set(frame["split"]) == {"train", "test"}
    clarkson = frame[frame["subset"] == "Da"]
    assert set(clarkson["attack_type"]) == {"none", "contact_lens", "print"}  # Spoof/Patterned, Spoof/Printed
    assert set(frame.loc[frame["subset"] == "H", "attack_type"]) == {"none", "unknown"}  # Fake: species unknown
    nd = frame[frame["subset"].isin(iris_layout.ND)]
    assert nd["subject"].str.fullmatch(r"(Ga|Aa|Gb|Ab)/\d{5}").all()  # CVRL names carry the subject
    assert (frame.loc[~frame["subset"].isin(iris_layout.ND), "subject"] == "").all()
    assert (frame["label"] == 1).eq(frame["attack_type"] == "none").all()
    assert not frame["path"].str.startswith("/").any()


@pytest.mark.parametrize("protocol", ["P1", "P3.5"])
def test_irisgeneral_manifest_prepares_a_protocol(tmp_path, protocol):
    root = iris_layout.write(tmp_path / "iris")
    imported("irisgeneral", root)
    data = prepare(data_cfg(root, "irisgeneral", protocol))
    for split in ("train", "dev", "test"):
        assert set(data.split(split)["label"]) == {0, 1}, split
    if protocol == "P3.5":  # leave the LG4000 sensor out
        assert set(data.test["subset"]) == {"Ga", "Gb"} and not {"Ga", "Gb"} & set(data.train["subset"])


# -------------------------------------------------------------------------------------------------- UniAttackData


def test_uniattackdata_release_becomes_one_row_per_file_with_per_protocol_splits(tmp_path):
    frame = imported("uniattackdata", uad_layout.write(tmp_path / "uad"))
    assert len(frame) == 3 * sum(sum(c) for c in uad_layout.COUNTS.values())
    for folder, protocol in (("p1", "P1"), ("p2.1", "P2.1"), ("p2.2", "P2.2")):
        own = frame[frame["subset"] == folder]
        assert (own[f"split@{protocol}"] == own["split"]).all()
        assert (frame.loc[frame["subset"] != folder, f"split@{protocol}"] == "").all()
    live = frame["label"] == 1  # released 0 = live, stored as padsweep's 1 = bona fide
    assert frame.loc[live, "path"].str.endswith(("000001.jpg", "000002.jpg", "000003.jpg")).all()
    assert set(frame.loc[live, "attack_category"]) == {"none"}
    attacks = frame[~live].groupby(["subset", "split"])["attack_category"].first().to_dict()
    assert attacks[("p2.1", "train")] == "digital" and attacks[("p2.1", "test")] == "physical"
    assert attacks[("p2.2", "train")] == "physical" and attacks[("p2.2", "test")] == "digital"
    assert attacks[("p1", "test")] == attacks[("p2.1", "dev")] == "unknown"


@pytest.mark.parametrize("variant", [dict(merged=True), dict(protocol_relative=True), dict(windows=True)],
                         ids=["phases merged", "paths relative to the protocol folder", "BOM and CRLF lists"])
def test_uniattackdata_variants_of_the_release_give_the_same_rows(tmp_path, variant):
    def rows(frame: pd.DataFrame) -> set:
        keyed = frame.assign(path=frame["path"].str.replace(r"^phase[12]/", "", regex=True))
        return set(keyed.itertuples(index=False, name=None))

    released = imported("uniattackdata", uad_layout.write(tmp_path / "released"))
    assert rows(imported("uniattackdata", uad_layout.write(tmp_path / "variant", **variant))) == rows(released)


@pytest.mark.parametrize("protocol, folder", [("P1", "p1"), ("P2.1", "p2.1"), ("P2.2", "p2.2")])
def test_uniattackdata_manifest_prepares_each_protocol_from_its_own_files(tmp_path, protocol, folder):
    root = uad_layout.write(tmp_path / "uad")
    frame = imported("uniattackdata", root)
    data = prepare(data_cfg(root, "uniattackdata", protocol))
    for split in ("train", "dev", "test"):
        part = data.split(split)
        expected = frame.loc[frame[f"split@{protocol}"] == split, "path"]
        assert sorted(part["path"]) == sorted(expected), split  # the per-protocol list, nothing of the others
        assert set(part["subset"]) == {folder} and set(part["label"]) == {0, 1}


# --------------------------------------------------------------------------------------------------- refusals


def add_image(root: Path, rel: str) -> str:
    iris_layout.write_image(root / rel, seed=999)
    return rel


def iris_unknown_file(root: Path) -> str:
    (root / "ND2013_LG4000/train/notes.txt").write_text("sorted by hand\n")
    return "notes.txt"


def iris_unknown_subset(root: Path) -> str:
    return add_image(root, "Warsaw2017/Training/Live/0001.png")


def iris_unknown_label(root: Path) -> str:
    return add_image(root, "Clarkson2013_DALSA/Training/Cadaver/c_1.png")


def iris_subject_in_two_splits(root: Path) -> str:  # subject 02000 of Ga is a train subject
    add_image(root, f"ND2013_LG4000/test/Live/{iris_layout.nd_name('Ga', 0, 1999)}")
    return "Ga/02000"


def iris_subset_twice(root: Path) -> str:  # a copy of Clarkson 2013 under another accepted name
    shutil.copytree(root / "Clarkson2013_DALSA", root / "Da")
    return "both are subset Da"


def uad_unknown_file(root: Path) -> str:
    uad_layout.write_image(root / "phase1/p1/train/000099.jpg", seed=999)
    return "000099.jpg"


def uad_missing_file(root: Path) -> str:
    (root / "phase1/p2.1/train/000002.jpg").unlink()
    return "p2.1/train/000002.jpg"


def uad_unknown_label(root: Path) -> str:
    lst = root / "phase1/p2.2/train_label.txt"
    lst.write_text(lst.read_text().replace("p2.2/train/000004.jpg 1", "p2.2/train/000004.jpg spoof"))
    return "p2.2/train/000004.jpg spoof"


def uad_image_in_two_splits(root: Path) -> str:
    with (root / "phase2/p1/dev_label.txt").open("a") as fh:
        fh.write("p1/train/000001.jpg 0\n")
    return "listed as P1 dev label 0"


def uad_unlabelled_split(root: Path) -> str:
    (root / "phase2/p1/test_label.txt").unlink()
    return "listed only unlabelled"


REFUSALS = [
    ("irisgeneral", iris_unknown_file, "files the layout does not explain"),
    ("irisgeneral", iris_unknown_subset, "files the layout does not explain"),
    ("irisgeneral", iris_unknown_label, "label words the importer does not know"),
    ("irisgeneral", iris_subject_in_two_splits, "subjects on both sides of a split"),
    ("irisgeneral", iris_subset_twice, "other problems"),
    ("uniattackdata", uad_unknown_file, "files the layout does not explain"),
    ("uniattackdata", uad_missing_file, "protocol entries whose file is missing"),
    ("uniattackdata", uad_unknown_label, "label words the importer does not know"),
    ("uniattackdata", uad_image_in_two_splits, "other problems"),
    ("uniattackdata", uad_unlabelled_split, "other problems"),
]


KINDS = ("files the layout does not explain", "protocol entries whose file is missing",
         "label words the importer does not know", "subjects on both sides of a split", "other problems")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pad_core", "import", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_imports_a_release_and_lists_both_importers(tmp_path):
    root = uad_layout.write(tmp_path / "uad")
    done = run_cli("uniattackdata", str(root), "--out", str(root / "m.csv"))
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and len(pd.read_csv(root / "m.csv")) == 42
    listing = run_cli("--list")
    assert "irisgeneral (benchmark irisgeneral" in listing.stdout and "uniattackdata (benchmark uniattackdata" \
        in listing.stdout


@pytest.mark.parametrize("name, breaks, kind", REFUSALS, ids=[f"{n}: {b.__name__}" for n, b, _ in REFUSALS])
def test_each_problem_is_refused_by_the_cli_with_its_path(tmp_path, name, breaks, kind):
    root = (iris_layout if name == "irisgeneral" else uad_layout).write(tmp_path / name)
    named = breaks(root)
    started = time.monotonic()
    done = run_cli(name, str(root))
    TIMES[breaks.__name__] = time.monotonic() - started
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert kind in done.stderr and named in done.stderr and "Fix:" in done.stderr, done.stderr
    assert [k for k in KINDS if k in done.stderr] == [kind], "each problem is reported once, as what it is"
    assert named in (root / "padsweep_manifest.problems.txt").read_text()
    assert not (root / MANIFEST).exists(), "nothing is written when the import is refused"


@pytest.mark.parametrize("name", ["irisgeneral", "uniattackdata"])
def test_skip_unknown_leaves_unknown_files_out_and_nothing_else(tmp_path, name):
    layout, unknown = (iris_layout, iris_unknown_subset) if name == "irisgeneral" else (uad_layout, uad_unknown_file)
    root = layout.write(tmp_path / name)
    clean = len(imported(name, root))
    unknown(root)
    frame = run_import(name, root, ImportOptions(out=root / MANIFEST, skip_unknown=True))
    assert len(frame) == clean


def test_unknown_files_under_an_unknown_protocol_folder_are_reported(tmp_path):
    """A protocol folder the release does not have (p3): its files and list are not guessed into a protocol."""
    root = uad_layout.write(tmp_path / "uad")
    shutil.copytree(root / "phase1/p1", root / "phase1/p3")
    with pytest.raises(DataError, match=r"files the layout does not explain.*p3"):
        imported("uniattackdata", root)


def test_both_importers_are_registered_with_layout_and_source():
    for name in ("irisgeneral", "uniattackdata"):
        importer = IMPORTERS.get(name)
        assert importer.benchmark == name and "ROOT/" in importer.layout and "Not verified" in importer.source
