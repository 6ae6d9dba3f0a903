"""A tiny typed registry (timm's ``register_model`` / ``list_models`` idea)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Generic, TypeVar

from pad_core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object. ``@REG.register("name")`` adds; ``REG.get(name)`` fails with the known names."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.family} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ConfigError(self.family, name, f"unknown {self.family}", f"use one of {sorted(self._items)}")
        return self._items[name]

    def list(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._items
