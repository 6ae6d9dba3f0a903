"""Package names imported on first use: how a package ``__init__`` keeps its public names without loading torch,
pandas or open_clip for a caller that needs none of them (a command's ``--help``: docs/BENCHMARKS.md §13).

A package lists where each name lives and assigns ``__getattr__ = lazy_exports(__name__, {...})``; the
``TYPE_CHECKING`` imports next to it give type checkers and readers the same names.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


class LazyPackage(types.ModuleType):
    """A package whose exported names win over its submodules of the same name, whichever is imported first
    (``pad_core.ablation.render`` stays the function, as when the package imported it eagerly): the import system
    sets a submodule on its package when it first loads it, which would shadow the export."""

    _exported: frozenset[str] = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._exported and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


def lazy_exports(package: str, homes: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name of ``homes`` ({submodule: names}) is imported from its
    submodule when first read, then kept on the package (later reads are plain attribute reads)."""
    where = {name: module for module, names in homes.items() for name in names}
    owner = sys.modules[package]
    owner.__class__ = LazyPackage
    owner._exported = frozenset(where)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(owner, name, value)
        return value

    return __getattr__
