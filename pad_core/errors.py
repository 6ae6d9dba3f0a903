"""Errors that name the bad value and the fix, raised before any trial starts."""

from __future__ import annotations


class PadError(ValueError):
    """Base class: a user-facing error with the offending key, value and a fix."""

    def __init__(self, key: str, value: object, problem: str, fix: str) -> None:
        self.key, self.value, self.problem, self.fix = key, value, problem, fix
        super().__init__(self._render())

    def _render(self) -> str:
        return f"{self.key}={self.value!r}: {self.problem}. Fix: {self.fix}"

    def prefixed(self, prefix: str) -> PadError:
        """The same error with its key placed under a parent path (``moe`` + ``num_experts``)."""
        return type(self)(f"{prefix}.{self.key}", self.value, self.problem, self.fix)


class ConfigError(PadError):
    """A configuration value that is unknown, mistyped or inconsistent."""


class DataError(PadError):
    """A manifest, protocol or image problem found before training starts."""


class SweepError(PadError):
    """A sweep declaration (rows, seeds, search space, objective) that cannot run."""
