"""Per-protocol membership (issue 17): ``split@<protocol>`` columns, or a protocol's declared ``split_column``, say
which rows train, tune and test that protocol; ``split`` stays the default.

Each manifest is a copy of the smoke-scale synthetic iris benchmark (real PNG files) re-partitioned by subject, as
official protocol lists do; the expected rows and counts are computed here from the columns, independently of
:func:`prepare`. Leakage, unknown split words, rows in no protocol and columns naming no protocol are refused with
their paths or names, by :func:`prepare` and through a sweep's command line (before any trial).
"""

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pad_core.config import from_flat, scale_overrides
from pad_core.data import prepare, protocols, resolve_manifest_uri
from pad_core.errors import DataError
from tests.unit import test_bad_input as bad_input

no_ambient_cluster = bad_input.no_ambient_cluster  # autouse: no RAY_ADDRESS, cwd = repository root
SPLITS = ("train", "dev", "test")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The smoke iris images and manifest (good.csv), copied."""
    source = Path(resolve_manifest_uri(from_flat(scale_overrides("smoke")).data))
    out = tmp_path_factory.mktemp("splits")
    shutil.copytree(source.parent / "images", out / "images")
    shutil.copy(source, out / "good.csv")
    return out


def base(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "good.csv", dtype=str, keep_default_na=False)


def by_subject(frame: pd.DataFrame, shift: int) -> pd.Series:
    """A subject-disjoint train/dev/test partition (4:1:2 of the subjects), another one for each ``shift``."""
    subjects = sorted(frame["subject"].unique())
    slot = {s: (i + shift) % 7 for i, s in enumerate(subjects)}
    return frame["subject"].map(lambda s: "train" if slot[s] < 4 else "dev" if slot[s] == 4 else "test")


def official(frame: pd.DataFrame) -> pd.DataFrame:
    """No ``split``: P1 and P2 each from their own list (P2's list leaves the attack rows of subsets Da, Db out)."""
    p2 = by_subject(frame, 3).where(~(frame["subset"].isin(["Da", "Db"]) & (frame["label"] == "0")), "")
    return frame.assign(split="", **{"split@P1": by_subject(frame, 0).str.title(), "split@P2": p2.str.upper()})


def write(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def cfg(path: Path, protocol: str = "P1", **data):
    """No dev carved (dev_fraction 0): the rows are exactly the lists' (a list without dev rows is carved as split
    is, pad_core.data.manifest.carve_dev)."""
    return from_flat({**scale_overrides("smoke"), "data.manifest": str(path), "data.protocol": protocol,
                      "data.dev_fraction": 0.0, **{f"data.{k}": v for k, v in data.items()}}).data


def expected_rows(frame: pd.DataFrame, column: str, protocol: str) -> dict[str, set[str]]:
    """The protocol's rows from its column and its subset lists, computed without pad_core."""
    spec = json.loads((protocols.DEFS_DIR / "irisgeneral.json").read_text())["protocols"][protocol]
    member = frame[column].str.lower()
    return {split: set(frame.loc[(member == split) & frame["subset"].isin(
        spec["test" if split == "test" else "train"]["subset"]), "path"]) for split in SPLITS}


def test_each_protocol_takes_its_rows_from_its_own_column(folder, capsys):
    frame = official(base(folder))
    path = write(folder, "official", frame)
    for protocol in ("P1", "P2"):
        data = prepare(cfg(path, protocol))
        assert data.membership == f"split@{protocol}"
        want = expected_rows(frame, f"split@{protocol}", protocol)
        for split in SPLITS:
            assert set(data.split(split)["path"]) == want[split], (protocol, split)
    printed = capsys.readouterr().out
    train = frame[frame["split@P1"] == "Train"]
    live = int((train["label"] == "1").sum())
    assert (f"protocol P1 (membership: split@P1): train {len(train)} rows, {train['subject'].nunique()} subjects, "
            f"{live} bona fide / {len(train) - live} attack; dev ") in printed
    assert "protocol P2 (membership: split@P2)" in printed


def test_a_protocol_without_its_column_keeps_split(folder):
    frame = base(folder).assign(**{"split@P1": by_subject(base(folder), 0)})
    data = prepare(cfg(write(folder, "p1_only", frame), "P2"))
    want = expected_rows(frame, "split", "P2")
    assert data.membership == "split" and set(data.test["path"]) == want["test"]


def test_a_manifest_without_split_columns_selects_as_before(folder):
    frame = base(folder)
    data = prepare(cfg(folder / "good.csv", "P2"))
    want = expected_rows(frame, "split", "P2")  # the manifest has its own dev rows: nothing is carved
    assert data.membership == "split" and all(set(data.split(s)["path"]) == want[s] for s in SPLITS)


def test_a_leak_in_one_protocol_list_is_refused_with_its_subjects(folder):
    frame = official(base(folder))
    test_rows = frame.index[frame["split@P2"] == "TEST"][:2]
    frame.loc[test_rows, "split@P2"] = "TRAIN"  # two frames of test subjects listed for training
    leaked = sorted(frame.loc[test_rows, "subject"].unique())
    path = write(folder, "leak_p2", frame)
    prepare(cfg(path, "P1"))  # P1's own list is clean
    with pytest.raises(DataError, match=r"protocol P2 leaks between its splits: .*subjects in both train and test.*"
                                        + re.escape(leaked[0])):
        prepare(cfg(path, "P2"))


def unknown_word(f):
    f.loc[f.index[:2], "split@P1"] = "validation"
    return f


def in_no_protocol(f):
    f.loc[f.index[:3], ["split@P1", "split@P2"]] = ""
    return f


def names_no_protocol(f):
    return f.rename(columns={"split@P2": "split@P2.1"})


def names_a_group(f):
    return f.rename(columns={"split@P2": "split@P3"})


REFUSED = [  # (name, how the official manifest is broken, what the message must say)
    ("an unknown split word", unknown_word,
     r"unknown split values \['validation'\] in column 'split@P1' \(2 rows, e.g. \['images/"),
    ("a row in no protocol", in_no_protocol, r"3 rows have no split in any of \['split', 'split@P1', 'split@P2'\]"
                                             r" \(in no protocol\), e.g. \['images/"),
    ("a column naming no protocol", names_no_protocol, r"'split@P2.1' names no protocol of irisgeneral \(did you "
                                                       r"mean \[.*'P2'"),
    ("a column naming a group", names_a_group, r"'split@P3' names the group P3.*split@P3.1"),
]


@pytest.mark.parametrize("name, mutate, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_wrong_split_columns_are_refused(name, mutate, message, folder):
    path = write(folder, name.replace(" ", "_"), mutate(official(base(folder))))
    with pytest.raises(DataError, match=message) as info:
        prepare(cfg(path, "P1"))
    assert "Fix:" in str(info.value)


@pytest.mark.parametrize("name, mutate, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_wrong_split_columns_are_refused_on_the_command_line(name, mutate, message, folder, store, capsys):
    from tests.refusals import refused

    path = write(folder, "cli_" + name.replace(" ", "_"), mutate(official(base(folder))))
    started = time.monotonic()
    err = refused("mask_rates.py", ["--data", str(path)], store, capsys)
    print(f"\n[measure] refused '{name}' in {time.monotonic() - started:.2f} s")
    assert re.search(message, err) and "Fix:" in err and "Traceback" not in err


def test_a_parquet_column_left_empty_reads_as_not_in_the_protocol(folder):
    frame = official(base(folder))
    frame["split@P2"] = frame["split@P2"].astype(object).mask(frame["split@P2"] == "", None)  # absent: None
    frame.to_parquet(folder / "official.parquet")
    data = prepare(cfg(folder / "official.parquet", "P2"))
    assert set(data.train["path"]) == expected_rows(official(base(folder)), "split@P2", "P2")["train"]


def test_a_declared_split_column_is_used_and_required(folder, tmp_path, monkeypatch):
    spec = json.loads((protocols.DEFS_DIR / "irisgeneral.json").read_text())
    spec["benchmark"] = "iris_lists"
    spec["protocols"]["P1"]["split_column"] = "official_list_1"
    shutil.copytree(protocols.DEFS_DIR, tmp_path / "defs")
    (tmp_path / "defs" / "iris_lists.json").write_text(json.dumps(spec))
    monkeypatch.setattr(protocols, "DEFS_DIR", tmp_path / "defs")
    protocols.load_benchmark.cache_clear()
    try:
        frame = base(folder)
        lists = frame.assign(split="", official_list_1=by_subject(frame, 2).str.upper())
        data = prepare(cfg(write(folder, "lists", lists), "P1", benchmark="iris_lists"))
        assert data.membership == "official_list_1"
        assert set(data.test["path"]) == expected_rows(lists, "official_list_1", "P1")["test"]
        with pytest.raises(DataError, match=r"protocol P1 takes its membership from column 'official_list_1', "
                                            r"which the manifest lacks"):
            prepare(cfg(folder / "good.csv", "P1", benchmark="iris_lists"))
        bad = lists.assign(official_list_1=np.where(lists.index < 2, "holdout", lists["official_list_1"]))
        with pytest.raises(DataError, match=r"unknown split values \['holdout'\] in column 'official_list_1'"):
            prepare(cfg(write(folder, "bad_lists", bad), "P1", benchmark="iris_lists"))
    finally:
        protocols.load_benchmark.cache_clear()


def test_the_sweep_preflight_checks_every_protocol_it_runs(folder, store, capsys):
    """A leak in P2's list only: refused before any trial although P1 comes first."""
    from tests.refusals import refused

    frame = official(base(folder))
    rows = frame.index[frame["split@P2"] == "TEST"][:2]
    frame.loc[rows, "split@P2"] = "TRAIN"
    path = write(folder, "sweep_leak_p2", frame)
    started = time.monotonic()
    err = refused("mask_rates.py", ["--data", str(path), "--protocols", "P1,P2"], store, capsys)
    print(f"\n[measure] refused 'a subject leak in split@P2 (sweep of P1,P2)' in {time.monotonic() - started:.2f} s")
    assert "protocol P2 leaks between its splits" in err and "Fix:" in err and str(path) in err


def test_dev_carving_keeps_each_video_on_one_side():
    """Rows without a subject (Celeb-DF's by design) carve by their video, else by image: carved per frame, a video's
    frames landed in train and dev, and shared_videos then refused the protocol blaming the manifest."""
    from pad_core.data import checks
    from pad_core.data.manifest import carve_dev

    frames = [{"path": f"v{v}/{i}.png", "video": f"v{v}.mp4" if v < 10 else "", "subject": "", "subset": "Celeb-DF",
               "split": "train", "label": v % 2} for v in range(12) for i in range(4)]
    carved = carve_dev(pd.DataFrame(frames), 0.3, seed=0)
    videos = carved[carved["video"] != ""]
    assert (videos.groupby("video")["split"].nunique() == 1).all()
    stills = carved[carved["video"] == ""]  # no subject, no video: each image is its own unit
    units_in_dev = videos.loc[videos["split"] == "dev", "video"].nunique() + int((stills["split"] == "dev").sum())
    assert units_in_dev == round((10 + 8) * 0.3)  # 10 videos + 8 stills
    parts = {s: carved[carved["split"] == s] for s in ("train", "dev")} | {"test": carved.iloc[:0]}
    assert checks.shared_videos(parts, "m", "p", allow=False) == []
