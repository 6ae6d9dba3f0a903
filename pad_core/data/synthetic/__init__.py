"""Synthetic PAD benchmarks, generated once per (name, scale, size, seed) and cached on disk."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from pad_core.data.synthetic import face, flash, iris, multimodal
from pad_core.errors import DataError

BUILDERS = {"iris": iris, "uniattack": face.UNIATTACK_BUILDER, "jfsfdb": face.JFSFDB_BUILDER, "flash": flash,
            "mmdg": multimodal}
PREFIX = "synthetic:"


def cache_root() -> Path:
    return Path(os.environ.get("PADSWEEP_CACHE", Path.home() / ".cache" / "padsweep")) / "synthetic"


def is_synthetic(uri: str) -> bool:
    return uri.startswith(PREFIX)


def materialize(uri: str, *, scale: float, size: int, seed: int) -> str:
    """Path of the cached manifest for ``synthetic:<name>``, generating it once (atomically, under a lock)."""
    name = uri[len(PREFIX):]
    if name not in BUILDERS:
        raise DataError("data.manifest", uri, "unknown synthetic benchmark",
                        f"use one of {[PREFIX + b for b in BUILDERS]}")
    module = BUILDERS[name]
    target = cache_root() / f"{name}-v{module.GENERATOR_VERSION}-x{scale:g}-p{size}-s{seed}"
    manifest = target / "manifest.csv"
    if manifest.is_file():
        return str(manifest)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not manifest.is_file():
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
            module.build(tmp, scale=scale, size=size, seed=seed)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
    return str(manifest)
