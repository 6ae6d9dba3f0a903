"""Manifests that are wrong but used to be accepted (issue 16, cause 4), refused before anything trains.

Each class is broken on a copy of the smoke-scale synthetic iris manifest and its real PNG files, and goes through a
sweep file's real command line (exit 2, the value and ``Fix:``, the session's MLflow store unchanged:
tests/refusals.py) and through :func:`prepare` directly, where the overrides and the printed notes are checked.
"""

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pad_core.config import from_flat, scale_overrides
from pad_core.data import load_benchmark, prepare, read_manifest, resolve_manifest_uri
from pad_core.data.checks import shared_images, shared_subjects
from pad_core.data.manifest import carve_dev
from pad_core.errors import DataError
from tests.refusals import refused
from tests.unit import test_bad_input as bad_input

no_ambient_cluster = bad_input.no_ambient_cluster  # autouse: no RAY_ADDRESS, cwd = repository root

TIMES: dict[str, float] = {}  # seconds from the command's start to its exit 2, per case (printed at the end)


@pytest.fixture(scope="module", autouse=True)
def print_refusal_times():
    """The measured times (pytest -s), for docs/RELIABILITY.md."""
    yield
    for name, seconds in TIMES.items():
        print(f"\n[measure] refused '{name}' in {seconds:.2f} s", end="")


def rows_of_train(frame: pd.DataFrame) -> pd.Index:
    return frame.index[frame["split"] == "train"]


def rows_of_test(frame: pd.DataFrame) -> pd.Index:
    return frame.index[frame["split"] == "test"]


def twice(f):
    return pd.concat([f, f])


def train_path_in_test(f):  # the same file listed as a train row and as a test row
    f.loc[rows_of_test(f)[0], "path"] = f.loc[rows_of_train(f)[0], "path"]
    return f


def copy_in_test(f):  # a byte-identical copy of a train image (extra/copy.png) listed in test
    f.loc[rows_of_test(f)[0], "path"] = "extra/copy.png"
    return f


def train_subjects_in_test(f):
    f.loc[rows_of_test(f)[:3], "subject"] = f.loc[rows_of_train(f)[:3], "subject"].to_numpy()
    return f


def inverted(f):
    return f.assign(label=np.where(f["label"] == "1", "0", "1"))


def attack_without_type(f):
    f.loc[f.index[f["label"] == "0"][:5], "attack_type"] = "none"
    return f


def subset_typo(f):  # one source dataset misspelt: every protocol would silently lose it
    return f.assign(subset=f["subset"].replace({"Da": "DA", "Lb": "Lbb"}))


def placeholder(f):
    f.loc[0, "path"] = "extra/placeholder.png"
    return f


def bomb(f):
    f.loc[0, "path"] = "extra/bomb.png"
    return f


def header_only(f):
    return f.head(0)


def semicolon_duplicates(f):  # read as ';'-separated, then refused for its real defect, not "missing columns"
    return twice(f)


CASES = [  # (name, how the good manifest is broken, CSV separator, what the message must say)
    ("every row twice", twice, ",", r"823 images are listed in more than one row \(1646 rows, identical\)"),
    ("a train image as a test row", train_path_in_test, ",", r"1 images are listed in more than one row.*differing in "
                                                               r"\['split'.*images/.*in rows"),
    ("a copied image in test", copy_in_test, ",", r"protocol P1 leaks.*same content in train and test under "
                                                   r"different paths.*extra/copy.png.*data.allow_overlap=true"),
    ("train subjects in test", train_subjects_in_test, ",", r"3 subjects in both train and test.*"
                                                             r"data.allow_subject_overlap=true"),
    ("inverted labels", inverted, ",", r"bona fide rows \(label 1\) carry an attack type \{'contact_lens'.*"
                                        r"labels look inverted"),
    ("attacks without a type", attack_without_type, ",", r"5 attack rows \(label 0\) have no attack type"),
    ("a misspelt subset", subset_typo, ",", r"no protocol of irisgeneral names.*subset='Lbb' \(.* of 493 train rows"
                                             r".*did you mean \['Lb'\].*subset='DA'.*\['Da'\].*allow_unselected"),
    ("a 1x1 placeholder", placeholder, ",", r"1 image files are smaller than 16 px on a side.*extra/placeholder.png "
                                             r"\(1x1 RGB\)"),
    ("a decompression bomb", bomb, ",", r"1 image files have more than 50,000,000 pixels.*extra/bomb.png"),
    ("a header without rows", header_only, ",", r"the manifest has a header but no rows"),
    ("a ';' CSV", semicolon_duplicates, ";", r"823 images are listed in more than one row"),
]


def png_header(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width x height`` with almost no pixel data: a bomb's shape, 100 bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def good_manifest(tmp_path_factory) -> Path:
    """The smoke-scale synthetic iris manifest and images, copied, plus extra/: a copy of a train image, a 1x1
    placeholder and a 20000 x 20000 PNG header."""
    from PIL import Image

    source = Path(resolve_manifest_uri(from_flat(scale_overrides("smoke")).data))
    folder = tmp_path_factory.mktemp("manifest")
    shutil.copytree(source.parent / "images", folder / "images")
    good = pd.read_csv(source, dtype=str, keep_default_na=False)
    (folder / "extra").mkdir()
    shutil.copy(folder / good.loc[rows_of_train(good)[0], "path"], folder / "extra" / "copy.png")
    Image.new("RGB", (1, 1)).save(folder / "extra" / "placeholder.png")
    (folder / "extra" / "bomb.png").write_bytes(png_header(20000, 20000))
    shutil.copy(source, folder / "good.csv")
    return folder


def good_frame(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "good.csv", dtype=str, keep_default_na=False)


def cfg(path: Path, **data):
    flat = {f"data.{k}": v for k, v in data.items()}
    return from_flat({**scale_overrides("smoke"), "data.manifest": str(path), **flat})


@pytest.mark.parametrize("name, mutate, sep, message", CASES, ids=[c[0] for c in CASES])
def test_wrong_manifests_are_refused_on_the_command_line(name, mutate, sep, message, good_manifest, store, capsys):
    path = good_manifest / f"{name.replace(' ', '_')}.csv"
    mutate(good_frame(good_manifest)).to_csv(path, index=False, sep=sep)
    started = time.monotonic()
    err = refused("mask_rates.py", ["--data", str(path)], store, capsys)
    TIMES[name] = time.monotonic() - started
    assert re.search(message, err, flags=re.DOTALL), err
    assert "Fix:" in err and str(path) in err and "Traceback" not in err
    assert "missing columns" not in err


@pytest.mark.parametrize("name, mutate, sep, message", CASES, ids=[c[0] for c in CASES])
def test_wrong_manifests_are_refused_by_prepare(name, mutate, sep, message, good_manifest):
    path = good_manifest / f"prepare_{name.replace(' ', '_')}.csv"
    mutate(good_frame(good_manifest)).to_csv(path, index=False, sep=sep)
    with pytest.raises(DataError, match=message) as info:
        prepare(cfg(path).data)
    assert "Fix:" in str(info.value)


def test_overrides_let_a_protocol_share_data_and_say_so(good_manifest, capsys):
    shared = copy_in_test(train_subjects_in_test(subset_typo(good_frame(good_manifest))))
    shared.to_csv(good_manifest / "shared.csv", index=False)
    data = prepare(cfg(good_manifest / "shared.csv", allow_overlap=True, allow_subject_overlap=True,
                      allow_unselected=True, allow_missing_values=True).data)  # Da, Lb misspelt: absent as named
    assert len(data.notes) == 4 and "extra/copy.png" in set(data.test["path"])
    printed = capsys.readouterr().out
    for flag in ("allow_overlap", "allow_subject_overlap", "allow_unselected", "allow_missing_values"):
        assert f"data.{flag}=true" in printed
    assert not set(data.train["subset"]) & {"DA", "Lbb"}  # allowed, not selected: the rows are still left out


def test_overrides_do_not_change_the_config_hash():
    from pad_core.config.flat import config_hash, to_flat

    base = from_flat(scale_overrides("smoke"))
    allowed = from_flat({**scale_overrides("smoke"), "data.allow_overlap": True, "data.allow_subject_overlap": True,
                         "data.allow_unselected": True, "data.allow_missing_values": True})
    assert config_hash(base) == config_hash(allowed) and to_flat(allowed)["data.allow_overlap"] is True


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_csv_separated_otherwise_is_read_as_such(sep, good_manifest, capsys):
    path = good_manifest / f"sep{ord(sep)}.csv"
    good_frame(good_manifest).to_csv(path, index=False, sep=sep)
    assert read_manifest(str(path)).frame.equals(read_manifest(str(good_manifest / "good.csv")).frame)
    assert f"separated by {sep!r}" in capsys.readouterr().out


def test_spelling_variants_read_as_the_canonical_values(good_manifest):
    """A BOM and spaces in the header, spaces around cells, ``./`` and ``//`` in paths, ``Train``, ``None``."""
    frame = good_frame(good_manifest)
    variant = frame.assign(path="./" + frame["path"].str.replace("/", "//", n=1), split=frame["split"].str.title(),
                           subset=" " + frame["subset"] + " ", attack_type=frame["attack_type"].replace("none", "None"))
    variant.columns = [f" {c}" if c == "label" else c for c in variant.columns]
    path = good_manifest / "variant.csv"
    path.write_bytes(b"\xef\xbb\xbf" + variant.to_csv(index=False).encode())
    data, good = prepare(cfg(path).data), prepare(cfg(good_manifest / "good.csv").data)
    for split in ("train", "dev", "test"):
        assert data.split(split).equals(good.split(split))


def test_absent_cells_of_a_parquet_manifest_are_refused(tmp_path):
    frame = pd.DataFrame({"path": ["a.png", "b.png"], "label": [1, None], "attack_type": ["none", "print"],
                          "subset": ["H", "H"], "device": ["d", "d"], "split": ["train", "test"],
                          "subject": ["1", "2"]})
    frame.to_parquet(tmp_path / "m.parquet")
    with pytest.raises(DataError, match=r"unknown labels \[''\] in 1 rows"):
        read_manifest(str(tmp_path / "m.parquet"))
    frame.assign(label=[1, 0], path=["a.png", None]).to_parquet(tmp_path / "n.parquet")
    with pytest.raises(DataError, match=r"empty path in 1 rows"):
        read_manifest(str(tmp_path / "n.parquet"))


def test_a_missing_selector_column_is_named(good_manifest, tmp_path):
    """The flash benchmark selects by ``fold``: a manifest without it was a KeyError traceback."""
    good_frame(good_manifest).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(DataError, match=r"no column \['fold'\], which the protocols of flash select rows by"):
        prepare(cfg(tmp_path / "m.csv", benchmark="flash", protocol="F1").data, check_files=False)


def test_the_same_file_selected_into_two_splits_is_refused():
    """test_splits may reach into train rows (cross-validation folds): a protocol whose selectors overlap leaks."""
    rows = pd.DataFrame({"path": ["a.png", "b.png"], "path_depth": ["d.png", ""], "subject": ["1", "2"]})
    parts = {"train": rows, "dev": rows.iloc[:0], "test": rows.iloc[:1]}
    with pytest.raises(DataError, match=r"2 image files in both train and test, e.g. \['a.png', 'd.png'\]"):
        shared_images(parts, "m.csv", "F1", allow=False)
    assert shared_images(parts, "m.csv", "F1", allow=True)


def test_subject_ids_reused_by_two_datasets_are_diagnosed_as_numbering():
    """Merged datasets that each number subjects from 001: the message says to prefix the IDs, not just 'leak'."""
    casia = pd.DataFrame({"subject": ["001", "002"], "subset": ["C", "C"], "path": ["c1.png", "c2.png"]})
    wmca = pd.DataFrame({"subject": ["001"], "subset": ["W"], "path": ["w1.png"]})
    parts = {"train": casia, "dev": casia.iloc[:0], "test": wmca}
    with pytest.raises(DataError, match=r"1 subjects in both train and test.*'001': c1.png in train, w1.png in test"
                                        r".*prefix the IDs with the subset.*allow_subject_overlap"):
        shared_subjects(parts, "m.csv", "P1.W", allow=False)


def old_carve_dev(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """carve_dev before issue 16 (per subset), for the subsets that have their own subjects."""
    import hashlib

    frame = frame.copy()
    for subset, rows in frame[frame["split"] == "train"].groupby("subset"):
        subjects = np.array(sorted(rows["subject"].unique()))
        rng = np.random.default_rng([seed, int(hashlib.md5(str(subset).encode()).hexdigest()[:8], 16)])
        chosen = rng.choice(subjects, size=int(round(len(subjects) * fraction)), replace=False)
        frame.loc[rows.index[rows["subject"].isin(chosen)], "split"] = "dev"
    return frame


def test_carved_dev_keeps_a_subject_seen_in_several_subsets_on_one_side():
    """Flash scenes share people: carved per subset, 12 of 20 subjects were in both train and dev."""
    own = pd.DataFrame({"subset": np.repeat(["A", "B", "C"], 40), "split": "train",
                        "subject": [f"{s}{i // 4}" for s in "ABC" for i in range(40)]})
    assert carve_dev(own, 0.2, 7).equals(old_carve_dev(own, 0.2, 7))  # own subjects: the same split as before
    shared = pd.DataFrame({"subset": [f"scene{i % 5}" for i in range(200)], "split": "train",
                           "subject": [f"u{i // 10 % 20}" for i in range(200)]})
    carved = carve_dev(shared, 0.15, 0)
    sides = carved.groupby("subject")["split"].nunique()
    assert (sides == 1).all() and carved.loc[carved["split"] == "dev", "subject"].nunique() == 3


def synthetic_copy(name: str, folder: Path, mutate) -> Path:
    """The smoke-scale synthetic ``name`` manifest, changed by ``mutate``, written to ``folder`` (rows only)."""
    source = resolve_manifest_uri(cfg(f"synthetic:{name}").data)
    path = folder / f"{name}.csv"
    mutate(pd.read_csv(source, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    return path


def species_unknown(f):  # attacks of unknown species ('unknown', as label_convention asks) in a category no
    # uniattackdata protocol names (its P2 protocols select by attack_category)
    f.loc[f.index[f["label"] == "0"][::4], ["attack_type", "attack_category"]] = ["unknown", "mask"]
    return f


def another_dataset(f):  # a tenth dataset merged in, which no jfsfdb protocol names
    f.loc[f.index[f["subset"] == "DFDC"], "subset"] = "CASIA-FASD"
    return f


@pytest.mark.parametrize("name, benchmark, mutate, kept, dropped, message", [
    ("uniattack", "uniattackdata", species_unknown, "P1", "P2.1",
     r"attack_category='mask' \(\d+ of \d+ dev rows, \d+ of \d+ test rows, \d+ of \d+ train rows"),
    ("jfsfdb", "jfsfdb", another_dataset, "joint", "loo.SiW",
     r"subset='CASIA-FASD' \(\d+ of \d+ dev rows, \d+ of \d+ test rows, \d+ of \d+ train rows"),
    ("jfsfdb", "jfsfdb", another_dataset, "joint", "joint.SiW",  # trains on every subset: only test rows dropped
     r"subset='CASIA-FASD' \(\d+ of \d+ test rows, e.g. "),
], ids=["uniattack unknown species", "jfsfdb extra dataset, leave-one-out", "jfsfdb extra dataset, joint.SiW"])
def test_unnamed_values_are_judged_by_the_protocol_being_run(name, benchmark, mutate, kept, dropped, message,
                                                             tmp_path):
    """A value no protocol names was refused for every protocol, even one that selects every row of the column
    (uniattackdata P1, jfsfdb joint): now only where the protocol being run leaves its rows out, per split."""
    path = synthetic_copy(name, tmp_path, mutate)
    data = prepare(cfg(path, benchmark=benchmark, protocol=kept).data, check_files=False)
    assert data.notes == [], data.notes  # no list of the column: nothing dropped, nothing to say
    assert data.train["attack_type"].eq("unknown").any() or data.train["subset"].eq("CASIA-FASD").any()  # trained
    with pytest.raises(DataError, match=rf"no protocol of {benchmark} names, so protocol {re.escape(dropped)} leaves "
                                        rf"their rows out: {message}.*allow_unselected") as info:
        prepare(cfg(path, benchmark=benchmark, protocol=dropped).data, check_files=False)
    assert "Fix:" in str(info.value)


def test_a_value_named_by_another_protocol_is_a_deliberate_exclusion():
    """irisgeneral P2 trains on H and F only: the other subsets' train rows are named by P1 and left out on purpose,
    while a name no protocol knows is refused in P2 as in P1, with the closest names."""
    from pad_core.data.checks import unselected_values

    benchmark = load_benchmark("irisgeneral")
    frame = pd.DataFrame({"path": ["a.png", "b.png", "c.png"], "subset": ["H", "Da", "Dc"],
                          "split": ["train", "train", "train"]})
    for protocol in ("P1", "P2"):
        with pytest.raises(DataError, match=rf"protocol {protocol} leaves their rows out: subset='Dc' \(1 of 3 train "
                                            r"rows, e.g. c.png\) \(did you mean \['D[ab]', 'D[ab]'\]\?\)"):
            unselected_values(frame, benchmark, benchmark.protocol(protocol), "m.csv", allow=False)
        assert unselected_values(frame.head(2), benchmark, benchmark.protocol(protocol), "m.csv", allow=False) == []


def test_a_fold_only_excluded_from_training_is_kept():
    """flash trains on every fold but the tested one (an exclude list) and tests on any split: a fold number no
    protocol names still trains, so it is not refused; a test row of it reaches no test fold and is."""
    from pad_core.data.checks import unselected_values

    benchmark = load_benchmark("flash")
    frame = pd.DataFrame({"path": ["a.png", "b.png"], "fold": ["10", "10"], "split": ["train", "test"]})
    protocol = benchmark.protocol("F1")
    assert unselected_values(frame.head(1), benchmark, protocol, "m.csv", allow=False) == []
    notes = unselected_values(frame, benchmark, protocol, "m.csv", allow=True)
    assert len(notes) == 1 and "fold='10' (1 of 1 test rows, e.g. b.png)" in notes[0], notes


@pytest.mark.parametrize("name, benchmark", [("iris", "irisgeneral"), ("uniattack", "uniattackdata"),
                                             ("jfsfdb", "jfsfdb"), ("flash", "flash"), ("mmdg", "mmdg")])
def test_every_protocol_of_the_synthetic_benchmarks_passes(name, benchmark):
    """The demo and the tests train on these: no check may refuse them, nor print a finding."""
    for protocol in load_benchmark(benchmark).protocols:
        data = prepare(cfg(f"synthetic:{name}", benchmark=benchmark, protocol=protocol).data, check_files=False)
        assert data.notes == [], (protocol, data.notes)


def test_a_million_row_manifest_is_checked_in_seconds(tmp_path, capsys):
    """The row checks are vectorised: 1M rows (no image files) through parsing, validation and every protocol check."""
    from pad_core.data.prepare import check_rows

    n, subsets = 1_000_000, ["H", "Da", "Db", "La", "Lb", "F", "Ga", "Aa", "Gb", "Ab"]
    i = np.arange(n)
    subject = i // 50
    frame = pd.DataFrame({"path": [f"images/{k:07d}.png" for k in i], "label": (i % 2).astype(str),
                          "attack_type": np.where(i % 2 == 1, "none", "print"),
                          "subset": np.asarray(subsets)[subject % 10], "device": "cam",
                          "split": np.asarray(["train", "dev", "test"])[subject % 3], "subject": subject.astype(str)})
    frame.to_csv(tmp_path / "big.csv", index=False)
    started = time.monotonic()
    manifest = read_manifest(str(tmp_path / "big.csv"))
    read = time.monotonic() - started
    protocol = load_benchmark("irisgeneral").protocol("P1")
    parts = {s: protocol.rows(manifest.frame, s) for s in ("train", "dev", "test")}
    check_rows(cfg(tmp_path / "big.csv").data, manifest, load_benchmark("irisgeneral"), parts)
    total = time.monotonic() - started
    with capsys.disabled():
        print(f"\n[measure] 1M-row manifest: read + validated {read:.1f} s, all row checks {total - read:.1f} s")


def test_dev_is_carved_per_image_where_subjects_are_unknown():
    """IrisGeneral subsets without subject ids: counted as one subject, all of a subset's images went to dev or
    none of them."""
    frame = pd.DataFrame({"subset": "Da", "split": "train", "subject": "", "path": [f"{i}.png" for i in range(100)]})
    carved = carve_dev(frame, 0.15, 0)
    assert (carved["split"] == "dev").sum() == 15


@pytest.mark.parametrize("policy, carved_subsets", [("if_none", set()), ("missing_subsets", {"SiW"})])
def test_dev_carving_of_subsets_without_their_own_dev_is_the_benchmarks_declared_policy(policy, carved_subsets):
    splits = ["train"] * 16 + ["dev"] * 4 + ["train"] * 20
    frame = pd.DataFrame({"subset": ["FF++"] * 20 + ["SiW"] * 20, "split": splits,
                          "subject": [f"s{i}" for i in range(40)], "path": [f"{i}.png" for i in range(40)]})
    carved = carve_dev(frame, 0.25, 0, policy)
    gained = set(carved.loc[(carved["split"] == "dev") & (frame["split"] == "train"), "subset"])
    assert gained == carved_subsets
