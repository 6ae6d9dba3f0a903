"""A local, content-addressed cache of parsed ``scores.csv`` files: a table rebuilt again does not parse them again.

Parsing a run's scores (CSV -> the sorted test units :class:`RunScores` holds) costs more than downloading it.
An entry is keyed by the SHA-256 of the file's bytes as downloaded now (and the scoring level it is read at), so an
entry can only ever stand for exactly those bytes: a changed file is another key and is parsed afresh, a stale
entry is never looked up. Downloads are not skipped: MLflow's artifact API gives no hash or ETag of a file, and
its size (one request per file, as the download itself) is no proof of unchanged content.

Entries are ``.npz`` files of plain arrays (no pickles), written atomically; one that cannot be read is parsed
again and replaced. ``PADSWEEP_SCORES_CACHE``: the folder (default ``$PADSWEEP_CACHE/scores``, where the project's
other caches live, ``~/.cache/padsweep`` unless set), or ``off``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from pad_core.ablation.uncertainty import RunScores

ENV = "PADSWEEP_SCORES_CACHE"
VERSION = 1  # bump when from_scores_csv's output changes for the same bytes: older entries are not read
FIELDS = ("units", "scores", "labels", "species", "groups")


def cache_folder() -> Path | None:
    where = os.environ.get(ENV, "")
    if where.lower() == "off":
        return None
    base = Path(os.environ.get("PADSWEEP_CACHE", Path.home() / ".cache" / "padsweep")) / "scores"
    return Path(where) if where else base


def entry_name(data: bytes, per_video: bool) -> str:
    return f"v{VERSION}-{hashlib.sha256(data).hexdigest()}-{'video' if per_video else 'rows'}.npz"


def load(folder: Path | None, name: str, threshold: float | None, apcer_mode: str,
         tpr_positive: str) -> RunScores | None:
    """The cached units of these bytes with the run's own threshold and counting options; None when absent or
    unreadable."""
    if folder is None:
        return None
    try:
        with np.load(folder / name, allow_pickle=False) as stored:
            arrays = [stored[f] for f in FIELDS]
            kind = str(stored["unit_kind"])
    except Exception:  # noqa: BLE001 - any unreadable entry (truncated: BadZipFile, EOFError) is parsed again
        return None
    return RunScores(*arrays, kind, threshold, apcer_mode, tpr_positive)


def store(folder: Path | None, name: str, scores: RunScores) -> None:
    """Write the entry atomically (a reader sees a whole file or none); a full or read-only disk only costs speed."""
    if folder is None:
        return
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as fh:
            tmp = fh.name
            np.savez(fh, **{f: getattr(scores, f) for f in FIELDS}, unit_kind=np.array(scores.unit_kind))
        os.replace(tmp, folder / name)
    except OSError:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
