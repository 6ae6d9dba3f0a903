"""Checkpoints of single-worker (fast-path) cells in a folder named after the cell under the sweep's storage.

Any later attempt at the cell finds them: a Tune retry of the trial, or the trial of a new sweep driver after
the old one was killed (a new Tuner knows nothing of the old trials' checkpoints). A checkpoint is complete
before ``LATEST`` names it, so a crash mid-upload leaves the previous one in force.
"""

from __future__ import annotations

import hashlib
import posixpath

import pyarrow.fs

from pad_core.integrations.storage import storage_for

LATEST = "LATEST"


class CellCheckpoints:
    def __init__(self, storage_uri: str, sweep: str, key: str) -> None:
        path, fs = storage_for(storage_uri)
        self.fs = fs or pyarrow.fs.LocalFileSystem()
        self.root = posixpath.join(path, sweep, "cells", hashlib.sha256(key.encode()).hexdigest()[:20])

    def save(self, local_dir: str, step: int) -> None:
        """Upload ``local_dir`` as the cell's checkpoint at ``step``, point LATEST at it, drop older ones."""
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
        pointer = posixpath.join(self.root, LATEST)
        if self.fs.get_file_info(pointer).type != pyarrow.fs.FileType.File:
            return None
        with self.fs.open_input_stream(pointer) as src:
            return src.read().decode().strip() or None

    def download(self, name: str, local_dir: str) -> str:
        pyarrow.fs.copy_files(posixpath.join(self.root, name), local_dir, source_filesystem=self.fs)
        return local_dir
