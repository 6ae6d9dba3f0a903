"""Data manifests: one row per image, read from a local path or any fsspec URI (``s3://`` via s3fs).

Columns: ``path`` (relative to the manifest's folder), ``label`` (1 = bona fide, 0 = attack; the
words live/bonafide/real/genuine and attack/spoof/fake are accepted, in any case), ``attack_type`` (species;
"none" for bona fide and only for bona fide), ``subset``, ``device``, ``split`` (train/dev/test, any case),
``subject`` (a global identity, for disjoint splits; empty = unknown). Optional: ``split@<protocol>`` columns
(one protocol's own train/dev/test membership, empty = not in it; ``split`` may then be empty: a row needs a split
in at least one split column) and ``video`` (the video a frame row was sampled from; empty for still images).
CSV (``,``; a ``;``, tab or ``|`` separated header is recognised and read so) or Parquet by file suffix. Rows
with several files (BIG-MoE modalities, ATR-FAS depth maps) add more file columns named ``path_<what>`` (e.g.
``path_ir``, ``path_depth``); an empty entry there means the file is absent (a missing modality, no depth label).
Other extra columns are kept. Spaces around names and cells are dropped, paths are normalised (``./a//b.png`` =
``a/b.png``). What is checked against the benchmark and between splits: :mod:`pad_core.data.checks`; image files:
:mod:`pad_core.data.images`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import io
import posixpath
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np
import pandas as pd

from pad_core.data.files import FileSource
from pad_core.data.images import ImageFacts, inspect
from pad_core.data.protocols import SPLIT_PREFIX
from pad_core.errors import DataError

REQUIRED_COLUMNS = ("path", "label", "attack_type", "subset", "device", "split", "subject")
SPLITS = ("train", "dev", "test")
VIDEO = "video"  # optional: id of the video a frame row was sampled from
PREFLIGHT_THREADS = 16  # parallel reads of the remote preflight: enough to hide S3 latency, few for a driver
LABEL_WORDS = {"1": 1, "1.0": 1, "live": 1, "bonafide": 1, "bona_fide": 1, "bona fide": 1, "real": 1, "genuine": 1,
               "0": 0, "0.0": 0, "attack": 0, "spoof": 0, "fake": 0}
DELIMITERS = (",", ";", "\t", "|")  # CSV separators recognised from the header (spreadsheet exports)


@dataclass
class Manifest:
    """The validated table plus where its images live."""

    frame: pd.DataFrame
    uri: str  # the manifest's own URI
    fs: Any  # fsspec filesystem holding the images
    root: str  # folder (fs-internal path) that relative image paths start from
    sha256: str  # content hash of the manifest file

    def full_path(self, rel: str) -> str:
        return posixpath.join(self.root, rel)


def read_manifest(uri: str, storage_options: dict[str, Any] | None = None,
                  split_columns: tuple[str, ...] = ()) -> Manifest:
    """The validated manifest; ``split_columns``: membership columns a benchmark names beyond ``split`` and
    ``split@<protocol>`` (``"split_column"`` in its protocol definitions)."""
    try:
        fs, path = fsspec.core.url_to_fs(uri, **(storage_options or {}))
        with fs.open(path, "rb") as fh:
            raw = fh.read()
    except PermissionError as err:  # s3fs: missing, wrong or unauthorised credentials
        raise DataError("data.manifest", uri, f"access denied ({err})",
                        "check the S3 credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL "
                        "for non-AWS servers) in the environment, or the instance profile") from None
    except (FileNotFoundError, OSError) as err:
        raise DataError("data.manifest", uri, f"cannot read the manifest ({err.__class__.__name__}: {err})",
                        "give an existing CSV/Parquet path or s3:// URI, or synthetic:iris") from None
    frame = _parse(raw, path, uri)
    frame = validate_frame(frame, uri, split_columns)
    return Manifest(frame, uri, fs, posixpath.dirname(path), hashlib.sha256(raw).hexdigest())


def _parse(raw: bytes, path: str, uri: str) -> pd.DataFrame:
    try:
        if path.endswith(".parquet"):
            frame = pd.read_parquet(io.BytesIO(raw))
        else:
            frame = pd.read_csv(io.BytesIO(raw), sep=csv_delimiter(raw), dtype=str, keep_default_na=False)
    except UnicodeDecodeError as err:
        raise DataError("data.manifest", uri, f"not UTF-8 text ({err})",
                        "save the CSV as UTF-8 (Excel: CSV UTF-8), or write it as Parquet") from None
    except Exception as err:  # noqa: BLE001 - any parser failure is a bad manifest
        raise DataError("data.manifest", uri, f"not a readable CSV/Parquet table ({err})",
                        "write the manifest as CSV with a header row, or as Parquet") from None
    # Excel and hand-edited headers: a byte-order mark or spaces around a name would read as a missing column
    return frame.rename(columns=lambda c: str(c).strip().lstrip("\ufeff").strip())


def csv_delimiter(raw: bytes) -> str:
    """The header's field separator: ``,`` unless ``;`` / tab / ``|`` splits it into more of the required columns.

    Spreadsheets in locales with a decimal comma save CSV with ``;``: read with ``,``, the header is one column
    named "path;label;..." and every required column looks missing."""
    header = raw.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", errors="replace")
    found = {sep: len({c.strip().strip('"').lower() for c in header.split(sep)} & set(REQUIRED_COLUMNS))
             for sep in DELIMITERS}
    best = max(DELIMITERS, key=lambda sep: found[sep])  # ties keep the first: ","
    if best != ",":
        print(f"[padsweep] data: the manifest is separated by {best!r}, not ','; reading it so", flush=True)
    return best


def split_columns_of(frame: pd.DataFrame, named: tuple[str, ...] = ()) -> list[str]:
    """``split``, every ``split@<protocol>`` column and the ``named`` membership columns the frame has."""
    return ["split"] + [c for c in frame.columns if c != "split" and (c.startswith(SPLIT_PREFIX) or c in named)]


def validate_frame(frame: pd.DataFrame, uri: str, split_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError("data.manifest", uri, f"missing columns {missing} (it has {list(frame.columns)[:12]})",
                        f"add them; required columns are {list(REQUIRED_COLUMNS)}{_close_columns(missing, frame)}")
    if frame.empty:
        raise DataError("data.manifest", uri, "the manifest has a header but no rows",
                        "write one row per image (or point data.manifest at the full manifest)")
    splits = split_columns_of(frame, tuple(split_columns))
    frame = _clean_strings(frame, splits + ([VIDEO] if VIDEO in frame.columns else []))
    frame["label"] = _labels(frame, uri)
    for col in splits:
        frame[col] = frame[col].str.lower()  # "Train" means train; a misspelt split is refused below
    frame.loc[frame["attack_type"].str.lower() == "none", "attack_type"] = "none"  # protocols select "none"
    for col in file_columns(frame):
        frame[col] = normalise_paths(frame[col])
    _check_splits(frame, uri, splits)
    _check_values(frame, uri)
    return frame.reset_index(drop=True)


def _close_columns(missing: list[str], frame: pd.DataFrame) -> str:
    near = {m: difflib.get_close_matches(m.lower(), [str(c).lower() for c in frame.columns], n=1, cutoff=0.6)
            for m in missing}
    near = {m: c[0] for m, c in near.items() if c}
    return f" (column names are case-sensitive; close: {near})" if near else ""


def _clean_strings(frame: pd.DataFrame, text: list[str]) -> pd.DataFrame:
    """Required and ``text`` columns as text (a Parquet video id may be an integer, an all-empty split column
    float NaN); text cells stripped of surrounding spaces; absent cells (Parquet None/NaN) as ""."""
    frame = frame.copy()
    for col in frame.columns:
        if col in REQUIRED_COLUMNS or col in text or not pd.api.types.is_numeric_dtype(frame[col]):
            cells = frame[col].astype(object)
            frame[col] = cells.where(cells.notna(), "").astype(str).str.strip()
    return frame


def normalise_paths(paths: pd.Series) -> pd.Series:
    """``./a//b.png`` -> ``a/b.png``: one spelling per file, so duplicates and the listing compare equal.

    Vectorised: only the few cells holding ``.`` segments or doubled slashes go through ``posixpath.normpath``."""
    odd = paths.str.contains(r"(?:^|/)\.{1,2}(?:/|$)|//|/$", regex=True) & (paths != "")
    if odd.any():
        paths = paths.copy()
        paths[odd] = paths[odd].map(lambda p: posixpath.normpath(p) if not p.startswith("/") else p)
    return paths


def _labels(frame: pd.DataFrame, uri: str) -> pd.Series:
    words = frame["label"].str.lower()
    unknown = ~words.isin(list(LABEL_WORDS))
    if unknown.any():
        counts = words[unknown].value_counts()
        raise DataError("data.manifest", uri,
                        f"unknown labels {counts.index[:5].tolist()} in {int(unknown.sum())} rows "
                        f"(e.g. row {int(unknown.idxmax())})",
                        "use 1/live/bonafide for bona fide and 0/attack/spoof for attacks, in every row")
    return words.map(LABEL_WORDS).astype(int)


def _check_splits(frame: pd.DataFrame, uri: str, columns: list[str]) -> None:
    """Every split word is train/dev/test (empty = not in that column's protocol, when split@ columns exist), and
    every row has a split in at least one split column (a row in no protocol is a row nothing would use)."""
    found = []
    for col in columns:
        cells = frame[col]
        allowed = SPLITS if len(columns) == 1 else (*SPLITS, "")
        bad = ~cells.isin(allowed)
        if bad.any():
            words = sorted(cells[bad].unique())[:5]
            found.append(f"unknown split values {words} in column {col!r} ({int(bad.sum())} rows, e.g. "
                         f"{frame.loc[bad, 'path'].head(3).tolist()})")
    if len(columns) > 1:
        nowhere = (frame[columns] == "").all(axis=1)
        if nowhere.any():
            found.append(f"{int(nowhere.sum())} rows have no split in any of {columns} (in no protocol), e.g. "
                         f"{frame.loc[nowhere, 'path'].head(3).tolist()}")
    if found:
        raise DataError("data.manifest", uri, "; ".join(found),
                        f"use {list(SPLITS)} (dev = validation); in split@<protocol> columns leave a row empty to "
                        "keep it out of that protocol; remove rows that belong to no protocol")


def _check_values(frame: pd.DataFrame, uri: str) -> None:
    empty = frame.index[frame["path"] == ""]
    if len(empty):
        raise DataError("data.manifest", uri, f"empty path in {len(empty)} rows, e.g. rows {empty[:5].tolist()}",
                        "give every row an image path")
    paths = pd.concat([frame[c] for c in file_columns(frame)])
    escaping = paths[paths.str.startswith("/") | (paths == "..") | paths.str.startswith("../")]
    if len(escaping):
        raise DataError("data.manifest", uri, f"paths outside the data folder {escaping.tolist()[:3]}",
                        "use paths relative to the manifest's folder, without '..' or a leading '/'")


def file_columns(frame: pd.DataFrame) -> list[str]:
    """``path`` and every ``path_<what>`` column."""
    return [c for c in frame.columns if c == "path" or c.startswith("path_")]


def carve_dev(frame: pd.DataFrame, fraction: float, seed: int, policy: str = "if_none") -> pd.DataFrame:
    """Move ``fraction`` of each subset's train subjects to a dev split (identity-disjoint), if none exists.

    ``policy`` (the benchmark's ``carve_dev``): "if_none" carves only when no row is dev; "missing_subsets" carves
    every subset without dev rows of its own (JFSFDB mixes FF++, which ships a dev split, with SiW, which does not).
    Subsets that share subjects (the flash benchmark's ambient-light scenes: one person filmed in several) are
    carved together, so a person is dev in all of them or in none; carved per subset, the same person landed in
    train through one scene and in dev through another. The carving unit is the subject, else the row's video
    (frames of one recording stay on one side: Celeb-DF has no subject by design, and carved per frame its videos
    were split between train and dev, which shared_videos then refused), else the image itself."""
    is_dev = frame["split"] == "dev"
    if fraction == 0 or (policy == "if_none" and is_dev.any()):
        return frame
    has_dev = set(frame.loc[is_dev, "subset"])
    frame = frame.copy()
    train = frame[(frame["split"] == "train") & ~frame["subset"].isin(has_dev)]
    for name, rows in _subject_sharing_groups(train):
        units = carving_units(rows)
        subjects = np.array(sorted(units.unique()))
        rng = np.random.default_rng([seed, int(hashlib.md5(name.encode()).hexdigest()[:8], 16)])
        chosen = rng.choice(subjects, size=int(round(len(subjects) * fraction)), replace=False)
        frame.loc[rows.index[units.isin(chosen)], "split"] = "dev"
    return frame


def carving_units(rows: pd.DataFrame) -> pd.Series:
    """Per row, what moves to dev as one: its subject, else its video, else its own path (prefixes keep the kinds
    apart, so a video id never equals a subject)."""
    own = rows["path"].astype(str) if "path" in rows else pd.Series(rows.index.astype(str), index=rows.index)
    units = "\0" + own
    if VIDEO in rows:
        video = rows[VIDEO].fillna("").astype(str)
        units = units.where(video == "", "\1" + video)
    return rows["subject"].where(rows["subject"] != "", units)


def _subject_sharing_groups(train: pd.DataFrame):
    """(name, rows) per group of subsets linked by shared subjects; a lone subset's name is the subset itself."""
    parent = {str(s): str(s) for s in train["subset"].unique()}

    def root(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    pairs = train.loc[train["subject"] != "", ["subject", "subset"]].astype(str).drop_duplicates()
    shared = pairs[pairs["subject"].duplicated(keep=False)]
    for _, subsets in shared.groupby("subject")["subset"]:
        first = root(subsets.iloc[0])
        for other in subsets.iloc[1:]:
            parent[root(other)] = first
    roots = {s: root(s) for s in parent}
    members = {g: "+".join(sorted(s for s, r in roots.items() if r == g)) for g in set(roots.values())}
    for g, rows in train.groupby(train["subset"].astype(str).map(roots), sort=True):
        yield members[g], rows


def check_files_exist(manifest: Manifest, frame: pd.DataFrame) -> None:
    """Every image of ``frame`` exists (one listing of the data folder, not one request per file)."""
    strip = manifest.fs._strip_protocol
    present = pd.Index([p.rstrip("/") for p in manifest.fs.find(manifest.root)])
    wanted = pd.concat([frame[c].astype(str) for c in file_columns(frame)])
    wanted = pd.Series(wanted[wanted != ""].unique())
    full = wanted.map(lambda p: strip(manifest.full_path(p)))
    missing = wanted[~full.isin(present)].tolist()
    if missing:
        raise DataError("data.manifest", manifest.uri, f"{len(missing)} image files are missing, e.g. {missing[:3]}",
                        "fix the paths (relative to the manifest's folder) or restore the files")


def inspect_files(manifest: Manifest, frame: pd.DataFrame, *, sample: int = 0,
                  threads: int | None = None) -> dict[str, ImageFacts]:
    """:class:`ImageFacts` of every image path of ``frame`` (every file column), in manifest order.

    ``Image.verify`` reads the file without decoding every pixel; it catches the usual corruptions (a file
    cut short by a failed copy, an HTML error page saved as .png) at a fraction of a decode's cost; the header
    gives the size (placeholders, bombs) and the bytes a content hash (one image under two paths).
    ``sample`` > 0 checks that many files, drawn with a fixed seed so every rank and trial skips the same
    ones. Remote files are read by a thread pool (the check waits on the network, not the CPU) through the
    node cache, which the preflight thereby warms; local files are read serially."""
    paths = [rel for rel in pd.unique(pd.concat([frame[c].astype(str) for c in file_columns(frame)])) if rel]
    if 0 < sample < len(paths):  # "" cells are absent modalities or depth maps, not files
        paths = [paths[i] for i in np.sort(np.random.default_rng(0).choice(len(paths), sample, replace=False))]
    source = FileSource.of(manifest.fs)
    threads = threads or (PREFLIGHT_THREADS if source.remote else 1)
    source.fs  # noqa: B018 - open the filesystem once, before the threads share it
    started = time.monotonic()
    check = functools.partial(_inspect, source, manifest.root)
    if threads == 1:
        facts = [check(rel) for rel in paths]
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="preflight") as pool:
            facts = list(pool.map(check, paths))
    print(f"[padsweep] preflight: decoded {len(paths)} images in {time.monotonic() - started:.1f} s "
          f"({threads} threads)", flush=True)
    return dict(zip(paths, facts))


def unreadable_files(manifest: Manifest, frame: pd.DataFrame, *, sample: int = 0,
                     threads: int | None = None) -> list[str]:
    """Image paths that are not usable images (undecodable, placeholder-sized or oversized), in manifest order."""
    facts = inspect_files(manifest, frame, sample=sample, threads=threads)
    return [rel for rel, fact in facts.items() if fact.problem]


def _inspect(source: FileSource, root: str, rel: str) -> ImageFacts:
    return inspect(source.read(posixpath.join(root, rel)))
