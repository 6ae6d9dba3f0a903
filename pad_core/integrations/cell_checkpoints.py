"""Checkpoints of single-worker (fast-path) cells in a folder named after the cell under the sweep's storage.

Any later attempt at the cell finds them: a Tune retry of the trial, or the trial of a new sweep driver after
the old one was killed (a new Tuner knows nothing of the old trials' checkpoints). A checkpoint is complete
before ``LATEST`` names it, so a crash mid-upload leaves the previous one in force.

When the storage cannot be reached (an S3 outage), each operation is retried on a bounded schedule (by default
2, 4, 8, 16, 32 s apart: about a minute), then fails with ``CheckpointStorageUnavailable`` naming the storage,
the attempts and the last good checkpoint; Tune retries the trial, which resumes from that checkpoint.
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Callable
from typing import TypeVar

import pyarrow.fs

from pad_core.integrations.storage import storage_for

LATEST = "LATEST"
BACKOFF_S = (2.0, 4.0, 8.0, 16.0, 32.0)  # waits between attempts: 6 attempts over ~62 s
T = TypeVar("T")
TRANSIENT: tuple[type[BaseException], ...] = (OSError,)  # pyarrow's IO errors are OSErrors; botocore's added below
try:
    from botocore.exceptions import BotoCoreError

    TRANSIENT += (BotoCoreError,)  # EndpointConnectionError, ReadTimeoutError, ...
except ImportError:  # botocore comes with s3fs; without it there is no S3 storage to retry
    pass


class CheckpointStorageUnavailable(RuntimeError):
    """The checkpoint storage stayed unreachable through every retry (a plain error: Ray pickles it)."""


class CellCheckpoints:
    def __init__(self, storage_uri: str, sweep: str, key: str, backoff_s: tuple[float, ...] = BACKOFF_S) -> None:
        path, fs = storage_for(storage_uri, single_attempt=True)
        self.fs, self.uri, self.backoff_s = fs or pyarrow.fs.LocalFileSystem(), storage_uri, backoff_s
        self.root = posixpath.join(path, sweep, "cells", hashlib.sha256(key.encode()).hexdigest()[:20])
        self.last_saved = ""

    def retrying(self, what: str, action: Callable[[], T]) -> T:
        """``action()``, retried after each wait of ``backoff_s`` on an I/O error, then a clear failure."""
        started = time.monotonic()
        for attempt, wait in enumerate((*self.backoff_s, None), start=1):
            try:
                return action()
            except (PermissionError, FileNotFoundError):
                raise  # wrong credentials or a missing path do not heal with time
            except TRANSIENT as err:
                if wait is None:
                    raise CheckpointStorageUnavailable(
                        f"{what} at {self.uri} failed {attempt} times over {time.monotonic() - started:.0f} s "
                        f"({type(err).__name__}: {err}); last complete checkpoint: {self.last_saved or 'none'}. "
                        "Fix: check that the storage answers (AWS_ENDPOINT_URL, network); re-running the sweep "
                        "resumes the cell from its last complete checkpoint") from err
                print(f"[padsweep] {what} at {self.uri} failed ({type(err).__name__}); attempt {attempt + 1} "
                      f"of {len(self.backoff_s) + 1} in {wait:g} s", flush=True)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def save(self, local_dir: str, step: int) -> None:
        """Upload ``local_dir`` as the cell's checkpoint at ``step``, point LATEST at it, drop older ones."""
        self.retrying("checkpoint upload", lambda: self._save(local_dir, step))
        self.last_saved = f"ckpt-{step:07d}"

    def _save(self, local_dir: str, step: int) -> None:
        name = f"ckpt-{step:07d}"
        self.fs.create_dir(posixpath.join(self.root, name))
        pyarrow.fs.copy_files(local_dir, posixpath.join(self.root, name), destination_filesystem=self.fs)
        with self.fs.open_output_stream(posixpath.join(self.root, LATEST)) as out:
            out.write(name.encode())
        for info in self.fs.get_file_info(pyarrow.fs.FileSelector(self.root)):
            if info.type == pyarrow.fs.FileType.Directory and info.base_name != name:
                self.fs.delete_dir(info.path)

    def latest(self) -> str | None:
        """Name of the newest complete checkpoint, or None."""
        return self.retrying("checkpoint lookup", self._latest)

    def _latest(self) -> str | None:
        pointer = posixpath.join(self.root, LATEST)
        if self.fs.get_file_info(pointer).type != pyarrow.fs.FileType.File:
            return None
        with self.fs.open_input_stream(pointer) as src:
            return src.read().decode().strip() or None

    def download(self, name: str, local_dir: str) -> str:
        self.retrying("checkpoint download", lambda: pyarrow.fs.copy_files(
            posixpath.join(self.root, name), local_dir, source_filesystem=self.fs))
        self.last_saved = name
        return local_dir
