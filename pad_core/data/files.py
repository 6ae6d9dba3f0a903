"""Where a dataset's image files live, as a picklable description that opens its own filesystem per process.

Datasets are forked into DataLoader workers (``data.num_workers``) and pickled into spawned ones. An fsspec
async filesystem (s3fs) holds an event loop and a session bound to the process that made it, so a forked
worker that reuses the parent's instance fails with ``RuntimeError: This class is not fork-safe``. A
:class:`FileSource` therefore carries only the protocol and storage options and opens the filesystem lazily
in whichever process reads, again after every fork (checked by pid).

Remote files (anything but local disk and in-process memory) go through a node-local cache: each image
crosses the network once per node, not once per evaluation. Entries are written atomically (temporary file,
then rename), so concurrent loader workers and trials on one node never read a half-written file. Remote
images are assumed immutable under their path (as in a dataset release): replace a file under a new path, or
remove its cache folder. The cache lives under ``$PADSWEEP_CACHE/images`` (default ``~/.cache/padsweep``);
``PADSWEEP_CACHE_IMAGES=off`` reads remote files directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import tempfile
from pathlib import Path
from typing import Any

import fsspec

IN_PROCESS = ("file", "local", "memory")  # no network behind these: read directly, never cached


def _protocol(fs: Any) -> str:
    return fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]


def image_cache_root() -> Path | None:
    """The node-local cache folder, or None when ``PADSWEEP_CACHE_IMAGES=off``."""
    if os.environ.get("PADSWEEP_CACHE_IMAGES", "").lower() in ("off", "0", "false", "no"):
        return None
    return Path(os.environ.get("PADSWEEP_CACHE", Path.home() / ".cache" / "padsweep")) / "images"


class FileSource:
    """Reads files of one fsspec filesystem; safe to fork and to pickle (the filesystem is never shared)."""

    def __init__(self, protocol: str, storage_options: dict[str, Any] | None = None, *,
                 cache_dir: str | None = None) -> None:
        self.protocol, self.storage_options = protocol, dict(storage_options or {})
        self.cache_dir = cache_dir if cache_dir is not None else self._default_cache_dir()
        self._fs: Any = None
        self._pid = -1

    @classmethod
    def of(cls, fs: Any) -> FileSource:
        """The source of an fsspec filesystem (or an existing source, returned as is)."""
        if isinstance(fs, FileSource):
            return fs
        source = cls(_protocol(fs), getattr(fs, "storage_options", {}))
        if source.protocol == "memory":
            source._fs, source._pid = fs, os.getpid()  # process-local by nature: the instance *is* the data
        return source

    @property
    def remote(self) -> bool:
        return self.protocol not in IN_PROCESS

    def _default_cache_dir(self) -> str:
        root = image_cache_root()
        if not self.remote or root is None:
            return ""
        # One folder per (protocol, endpoint, options): two stores with equal object paths cannot collide. The
        # options may hold credentials, so only their hash is written to disk.
        endpoint = {k: os.environ.get(k, "") for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")}
        ident = json.dumps([self.protocol, self.storage_options, endpoint], sort_keys=True, default=repr)
        return str(root / f"{self.protocol}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}")

    @property
    def fs(self) -> Any:
        """This process's filesystem: opened on first use and again after a fork, never the parent's."""
        if self._fs is None or self._pid != os.getpid():
            # fsspec's instance cache is per pid too, so this returns a fresh instance in a forked worker
            self._fs, self._pid = fsspec.filesystem(self.protocol, **self.storage_options), os.getpid()
        return self._fs

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fs": None, "_pid": -1}

    def cache_path(self, path: str) -> str:
        """The cache file of a remote ``path`` (hashed: object keys may hold any character)."""
        name = hashlib.sha256(path.encode()).hexdigest()[:40] + posixpath.splitext(path)[1][:8]
        return os.path.join(self.cache_dir, name[:2], name)

    def read(self, path: str) -> bytes:
        """The file's bytes: from the node cache when present, else one read (and then cached)."""
        if not self.cache_dir:
            with self.fs.open(path, "rb") as fh:
                return fh.read()
        local = self.cache_path(path)
        try:
            with open(local, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            pass
        data = self.fs.cat_file(path)
        _store(local, data)
        return data


def _store(local: str, data: bytes) -> None:
    """Write atomically; a full or read-only disk only costs the cache, never the read."""
    tmp = ""
    try:
        os.makedirs(os.path.dirname(local), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(local), prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, local)
    except OSError:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
