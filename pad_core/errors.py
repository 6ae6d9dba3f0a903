"""Errors that name the bad value and the fix, raised before any trial starts."""

from __future__ import annotations


class PadError(ValueError):
    """Base class: a user-facing error with the offending key, value and a fix."""

    def __init__(self, key: str, value: object, problem: str, fix: str) -> None:
        self.key, self.value, self.problem, self.fix = key, value, problem, fix
        super().__init__(self._render())

    def __reduce__(self):
        # Pickle by the four fields: the default (type, args) rebuild would call __init__ with the one rendered
        # message and fail, so Ray and Tune, which pickle a trial's exception to the driver, reported
        # "TypeError: PadError.__init__() missing 3 required positional arguments" instead of this error.
        return type(self), (self.key, self.value, self.problem, self.fix), self.__dict__

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
