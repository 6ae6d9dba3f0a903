"""Dataset importers: a dataset as downloaded (its published layout and protocol files) -> a padsweep manifest.

``python -m pad_core import DATASET ROOT --out ROOT/manifest.parquet``; ``python -m pad_core import --list`` names
them with the layout each expects. Every importer module registers itself in :data:`IMPORTERS` on import.
"""

from __future__ import annotations

import importlib

from pad_core.data.importers.base import IMPORTERS, Importer, ImportOptions, ImportProblems, register, run_import

MODULES = ("irisgeneral", "uniattackdata", "jfsfdb", "mmdg", "flash")


def load_all() -> None:
    for module in MODULES:
        importlib.import_module(f"pad_core.data.importers.{module}")


__all__ = ["IMPORTERS", "Importer", "ImportOptions", "ImportProblems", "load_all", "register", "run_import"]
