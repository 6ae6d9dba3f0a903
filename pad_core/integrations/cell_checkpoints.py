"""Checkpoints of single-worker (fast-path) cells in a folder named after the cell under the sweep's storage.

Any later attempt at the cell finds them: a Tune retry of the trial, or the trial of a new sweep driver after
the old one was killed (a new Tuner knows nothing of the old trials' checkpoints). A checkpoint is complete
before ``LATEST`` names it, so a crash mid-upload leaves the previous one in force.

Layout under the cell's folder: ``ckpt-<step>/`` (the resumable state, see ``pad_core/engine/checkpoint.py``),
``best-<step>.pt`` (the best-dev weights, uploaded only in the checkpoint where they changed, kept under that stable
name while the latest checkpoint refers to it), ``LATEST`` and ``RUN`` (the MLflow run the checkpoints belong to: a
new run of the cell, made because the old one was deleted, trains from step 0 instead of resuming them).
``save_async`` uploads on one background thread (at most one upload in flight: the next save waits for the previous
and raises its error); the folder is deleted when its cell finishes, unless the sweep runs with
``--keep-checkpoints``.

When the storage cannot be reached (an S3 outage), each operation is retried on a bounded schedule (by default
2, 4, 8, 16, 32 s apart: about a minute), then fails with ``CheckpointStorageUnavailable`` naming the storage,
the attempts and the last good checkpoint; Tune retries the trial, which resumes from that checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pyarrow.fs

from pad_core.engine.checkpoint_files import BEST_FILE, META_FILE
from pad_core.integrations.storage import storage_for

LATEST = "LATEST"
OWNER = "RUN"  # the MLflow run id the cell's checkpoints belong to
DISCARDED_TAG = "pad.checkpoint_discarded"  # on a run that found another run's checkpoints and trained from step 0
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
    def __init__(self, storage_uri: str, sweep: str, key: str, backoff_s: tuple[float, ...] = BACKOFF_S,
                 run_id: str = "") -> None:
        path, fs = storage_for(storage_uri, single_attempt=True)
        self.run_id = run_id  # the MLflow run saving here ("" = a reader, e.g. --plan)
        self.fs, self.uri, self.backoff_s = fs or pyarrow.fs.LocalFileSystem(), storage_uri, backoff_s
        self.root = posixpath.join(path, sweep, "cells", hashlib.sha256(key.encode()).hexdigest()[:20])
        self.last_saved = ""
        self.upload: threading.Thread | None = None  # the one upload in flight (save_async)
        self.upload_error: BaseException | None = None

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

    def save_async(self, local_dir: str, step: int) -> None:
        """``save`` on a background thread, then ``local_dir`` is removed. Waits for the previous upload first (one
        in flight: memory and bandwidth stay bounded) and raises its error, so a failure surfaces at the next save."""
        self.wait()

        def upload() -> None:
            try:
                self.save(local_dir, step)
            except BaseException as err:  # noqa: BLE001 - handed to the training thread by wait()
                self.upload_error = err
            finally:
                shutil.rmtree(local_dir, ignore_errors=True)

        # not a daemon: a trial paused or ended gracefully still finishes the upload before its process exits
        self.upload = threading.Thread(target=upload, name=f"ckpt-upload-{step}")
        self.upload.start()

    def wait(self) -> None:
        """Block until the upload in flight is persisted; raise its error if it failed."""
        if self.upload is not None:
            self.upload.join()
            self.upload = None
        if self.upload_error is not None:
            err, self.upload_error = self.upload_error, None
            raise err

    def delete(self) -> None:
        """Remove the cell's checkpoints (its run finished: nothing will resume from them)."""
        self.wait()
        self._forget_listings()
        if self.fs.get_file_info(self.root).type == pyarrow.fs.FileType.Directory:
            self.retrying("checkpoint deletion", lambda: self.fs.delete_dir(self.root))

    def _forget_listings(self) -> None:
        """s3fs caches folder listings and keeps deleted entries in them: list afresh before deciding what to drop."""
        fsspec_fs = getattr(getattr(self.fs, "handler", None), "fs", None)
        if hasattr(fsspec_fs, "invalidate_cache"):
            fsspec_fs.invalidate_cache()

    def _save(self, local_dir: str, step: int) -> None:
        name = f"ckpt-{step:07d}"
        if isinstance(self.fs, pyarrow.fs.LocalFileSystem):  # on S3 a folder marker would outlive delete_dir
            self.fs.create_dir(posixpath.join(self.root, name))
        best_step = _best_step(local_dir)
        for file in os.listdir(local_dir):  # the best weights go beside the checkpoints, under their own step
            target = posixpath.join(self.root, _best_name(best_step)) if file == BEST_FILE else \
                posixpath.join(self.root, name, file)
            pyarrow.fs.copy_files(os.path.join(local_dir, file), target, destination_filesystem=self.fs)
        if self.run_id:
            with self.fs.open_output_stream(posixpath.join(self.root, OWNER)) as out:
                out.write(self.run_id.encode())
        with self.fs.open_output_stream(posixpath.join(self.root, LATEST)) as out:
            out.write(name.encode())
        self._forget_listings()
        keep = {name, _best_name(best_step)}  # an old-layout checkpoint (no meta) refers to no best file
        for info in self.fs.get_file_info(pyarrow.fs.FileSelector(self.root)):
            if info.base_name in keep or info.base_name in (LATEST, OWNER):
                continue
            if info.type == pyarrow.fs.FileType.Directory:
                self.fs.delete_dir(info.path)
            elif info.base_name.startswith("best-") and best_step is not None:
                self.fs.delete_file(info.path)

    def latest(self) -> str | None:
        """Name of the newest complete checkpoint, or None."""
        return self.retrying("checkpoint lookup", lambda: self._read(LATEST) or None)

    def foreign(self, fresh_run: bool) -> str:
        """"" when ``run_id`` may resume the cell's checkpoints; else what they are: another run's (the cell's run
        was deleted in MLflow and ``fresh_run`` is its replacement), or, unrecorded, found by a run made just now."""
        owner = self.retrying("checkpoint owner lookup", lambda: self._read(OWNER))
        if owner == self.run_id or (not owner and not fresh_run):  # no owner, old run: written by older code
            return ""
        return f"the checkpoint {self.root}/{self.latest()} of MLflow run {owner or '(unrecorded)'}"

    def _read(self, name: str) -> str:
        pointer = posixpath.join(self.root, name)
        if self.fs.get_file_info(pointer).type != pyarrow.fs.FileType.File:
            return ""
        with self.fs.open_input_stream(pointer) as src:
            return src.read().decode().strip()

    def download(self, name: str, local_dir: str) -> str:
        """The checkpoint ``name`` into ``local_dir``, with the best weights it refers to as its ``best.pt``."""
        self.retrying("checkpoint download", lambda: pyarrow.fs.copy_files(
            posixpath.join(self.root, name), local_dir, source_filesystem=self.fs))
        best_step = _best_step(local_dir)
        best = posixpath.join(self.root, _best_name(best_step))
        if best_step is not None and best_step >= 0 and not os.path.exists(os.path.join(local_dir, BEST_FILE)) \
                and self.fs.get_file_info(best).type == pyarrow.fs.FileType.File:
            self.retrying("best weights download", lambda: pyarrow.fs.copy_files(
                best, os.path.join(local_dir, BEST_FILE), source_filesystem=self.fs))
        self.last_saved = name
        return local_dir


def note_discarded(tracking_uri: str, run_id: str, what: str) -> None:
    """Say on the run (tag) and in the log that another run's checkpoint was removed instead of resumed."""
    from mlflow.tracking import MlflowClient

    text = (f"{what} belongs to another MLflow run of this cell (deleted or replaced): not resumed but removed; "
            "this run trains from step 0")
    print(f"[padsweep] {text}", flush=True)
    MlflowClient(tracking_uri).set_tag(run_id, DISCARDED_TAG, text[:5000])


def _best_step(local_dir: str) -> int | None:
    """The best-weights step a checkpoint refers to (None: an old checkpoint, best weights inside its state)."""
    path = os.path.join(local_dir, META_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as src:
        return int(json.load(src)["best_step"])


def _best_name(best_step: int | None) -> str:
    return f"best-{best_step:07d}.pt" if best_step is not None else ""
