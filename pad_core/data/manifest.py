"""Data manifests: one row per image, read from a local path or any fsspec URI (``s3://`` via s3fs).

Columns: ``path`` (relative to the manifest's folder), ``label`` (1 = bona fide, 0 = attack; the
words live/bonafide/real and attack/spoof/fake are accepted), ``attack_type`` (species; "none" for
bona fide), ``subset``, ``device``, ``split`` (train/dev/test), ``subject`` (identity, for disjoint
splits). CSV or Parquet by file suffix. Rows with several files (BIG-MoE modalities, ATR-FAS depth maps)
add more file columns named ``path_<what>`` (e.g. ``path_ir``, ``path_depth``); an empty entry there
means the file is absent (a missing modality, no depth label). Other extra columns are kept.
"""

from __future__ import annotations

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
from pad_core.errors import DataError

REQUIRED_COLUMNS = ("path", "label", "attack_type", "subset", "device", "split", "subject")
SPLITS = ("train", "dev", "test")
PREFLIGHT_THREADS = 16  # parallel reads of the remote preflight: enough to hide S3 latency, few for a driver
LABEL_WORDS = {"1": 1, "live": 1, "bonafide": 1, "bona_fide": 1, "real": 1,
               "0": 0, "attack": 0, "spoof": 0, "fake": 0}


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


def read_manifest(uri: str, storage_options: dict[str, Any] | None = None) -> Manifest:
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
    frame = validate_frame(frame, uri)
    return Manifest(frame, uri, fs, posixpath.dirname(path), hashlib.sha256(raw).hexdigest())


def _parse(raw: bytes, path: str, uri: str) -> pd.DataFrame:
    try:
        if path.endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(raw))
        return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except Exception as err:  # noqa: BLE001 - any parser failure is a bad manifest
        raise DataError("data.manifest", uri, f"not a readable CSV/Parquet table ({err})",
                        "write the manifest as CSV with a header row, or as Parquet") from None


def validate_frame(frame: pd.DataFrame, uri: str) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError("data.manifest", uri, f"missing columns {missing}",
                        f"add them; required columns are {list(REQUIRED_COLUMNS)}")
    frame = frame.copy()
    for col in REQUIRED_COLUMNS:
        frame[col] = frame[col].astype(str).str.strip()
    frame["label"] = _labels(frame, uri)
    _check_values(frame, uri)
    return frame.reset_index(drop=True)


def _labels(frame: pd.DataFrame, uri: str) -> pd.Series:
    words = frame["label"].str.lower()
    bad = sorted(set(words[~words.isin(list(LABEL_WORDS))]))
    if bad:
        raise DataError("data.manifest", uri, f"unknown labels {bad[:5]}",
                        "use 1/live/bonafide for bona fide and 0/attack/spoof for attacks")
    return words.map(LABEL_WORDS).astype(int)


def _check_values(frame: pd.DataFrame, uri: str) -> None:
    bad_split = sorted(set(frame["split"]) - set(SPLITS))
    if bad_split:
        raise DataError("data.manifest", uri, f"unknown split values {bad_split}", f"use {list(SPLITS)}")
    empty = frame.index[frame["path"] == ""].tolist()
    if empty:
        raise DataError("data.manifest", uri, f"empty path in rows {empty[:5]}", "give every row an image path")
    paths = pd.concat([frame[c].astype(str) for c in file_columns(frame)])
    escaping = paths[paths.map(lambda p: p.startswith("/") or ".." in p.split("/"))].tolist()
    if escaping:
        raise DataError("data.manifest", uri, f"paths outside the data folder {escaping[:3]}",
                        "use paths relative to the manifest's folder, without '..' or a leading '/'")


def file_columns(frame: pd.DataFrame) -> list[str]:
    """``path`` and every ``path_<what>`` column."""
    return [c for c in frame.columns if c == "path" or c.startswith("path_")]


def carve_dev(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Move ``fraction`` of each subset's train subjects to a dev split (identity-disjoint), if none exists."""
    if (frame["split"] == "dev").any() or fraction == 0:
        return frame
    frame = frame.copy()
    for subset, rows in frame[frame["split"] == "train"].groupby("subset"):
        subjects = np.array(sorted(rows["subject"].unique()))
        rng = np.random.default_rng([seed, int(hashlib.md5(str(subset).encode()).hexdigest()[:8], 16)])
        chosen = rng.choice(subjects, size=int(round(len(subjects) * fraction)), replace=False)
        frame.loc[rows.index[rows["subject"].isin(chosen)], "split"] = "dev"
    return frame


def check_files_exist(manifest: Manifest, frame: pd.DataFrame) -> None:
    """Every image of ``frame`` exists (one listing of the data folder, not one request per file)."""
    present = {p.rstrip("/") for p in manifest.fs.find(manifest.root)}
    strip = manifest.fs._strip_protocol
    wanted = [p for c in file_columns(frame) for p in frame[c].astype(str) if p]
    missing = [p for p in wanted if strip(manifest.full_path(p)) not in present]
    if missing:
        raise DataError("data.manifest", manifest.uri, f"{len(missing)} image files are missing, e.g. {missing[:3]}",
                        "fix the paths (relative to the manifest's folder) or restore the files")


def unreadable_files(manifest: Manifest, frame: pd.DataFrame, *, sample: int = 0,
                     threads: int | None = None) -> list[str]:
    """Image paths (every file column) whose header or data PIL cannot verify: truncated, empty or not images.

    ``Image.verify`` reads the file without decoding every pixel; it catches the usual corruptions (a file
    cut short by a failed copy, an HTML error page saved as .png) at a fraction of a decode's cost.
    ``sample`` > 0 checks that many files, drawn with a fixed seed so every rank and trial skips the same
    ones. Remote files are read by a thread pool (the check waits on the network, not the CPU) through the
    node cache, which the preflight thereby warms; local files are read serially. The result is in manifest
    order either way."""
    paths = [rel for rel in pd.unique(pd.concat([frame[c].astype(str) for c in file_columns(frame)])) if rel]
    if 0 < sample < len(paths):  # "" cells are absent modalities or depth maps, not files
        paths = [paths[i] for i in np.sort(np.random.default_rng(0).choice(len(paths), sample, replace=False))]
    source = FileSource.of(manifest.fs)
    threads = threads or (PREFLIGHT_THREADS if source.remote else 1)
    source.fs  # noqa: B018 - open the filesystem once, before the threads share it
    started = time.monotonic()
    check = functools.partial(_verifies, source, manifest.root)
    if threads == 1:
        ok = [check(rel) for rel in paths]
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="preflight") as pool:
            ok = list(pool.map(check, paths))
    print(f"[padsweep] preflight: decoded {len(paths)} images in {time.monotonic() - started:.1f} s "
          f"({threads} threads)", flush=True)
    return [rel for rel, good in zip(paths, ok) if not good]


def _verifies(source: FileSource, root: str, rel: str) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(source.read(posixpath.join(root, rel)))) as image:
            image.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return False
    return True
