"""The code version a run was produced by: a content hash of the package and the sweep declarations.

A hash of the source files (not a git SHA) because ``ray job submit --working-dir .`` ships the files
without ``.git``; the same files give the same version on a laptop, a cluster head and a worker.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from pad_core import __version__

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pad_core", "search_spaces", "sweeps")  # what decides a run's numbers (configs live in code too)


@functools.cache
def code_version() -> str:
    """``<package version>+<12 hex of the sources' content>``."""
    digest = hashlib.sha256()
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"
