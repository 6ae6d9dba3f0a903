"""Type checking and coercion of dataclass fields from their annotations.

Frozen dataclasses call :func:`check_fields` in ``__post_init__`` so a config built in Python, from
a flat Tune/MLflow dict or from the command line is validated the same way. Strings are parsed with
:func:`parse_text` (command line and MLflow params); Python values are only coerced losslessly
(int to float, list to tuple). Float fields (and floats inside tuples) must be finite: nan or inf fails every
trial that reads them, so it is refused here unless a field opts in with ``metadata=NONFINITE_OK``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any, Literal, Union

from pad_core.config.hash_rules import canonical_value
from pad_core.errors import ConfigError

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
NONFINITE_OK = {"finite": False}  # field metadata: nan / inf are meaningful values of this field
NOT_FINITE = "not a finite number"


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


def coerce(value: Any, hint: Any, key: str, finite: bool = True) -> Any:
    """Return ``value`` as ``hint`` (lossless conversions only) or raise ConfigError; floats must be finite
    unless ``finite`` is False."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise ConfigError(key, value, "not one of the allowed values", f"use one of {list(args)}")
        return value
    if _is_union(hint):
        return _coerce_union(value, args, key, finite)
    if origin is tuple:
        return _coerce_tuple(value, args, key, finite)
    value = _coerce_scalar(value, hint, key)
    if finite and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, value, NOT_FINITE, "give a finite value")
    return value


def _coerce_union(value: Any, args: tuple, key: str, finite: bool) -> Any:
    errors = []
    for arg in args:
        try:
            return coerce(value, arg, key, finite)
        except ConfigError as err:
            if err.problem == NOT_FINITE:  # the right type with a bad value: say so, not "no type"
                raise
            errors.append(err.problem)
    raise ConfigError(key, value, f"matches none of {[getattr(a, '__name__', str(a)) for a in args]}",
                      "give a value of one of those types")


def _coerce_tuple(value: Any, args: tuple, key: str, finite: bool) -> tuple:
    if not isinstance(value, (tuple, list)):
        raise ConfigError(key, value, "expected a sequence", "give a tuple/list, e.g. (0, 0.1) or '0,0.1'")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(coerce(v, args[0], f"{key}[{i}]", finite) for i, v in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(key, value, f"expected exactly {len(args)} items", f"give {len(args)} items")
    return tuple(coerce(v, a, f"{key}[{i}]", finite) for i, (v, a) in enumerate(zip(value, args)))


def _coerce_scalar(value: Any, hint: Any, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise ConfigError(key, value, f"expected a {hint.__name__}", f"pass a {hint.__name__}(...)")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(key, value, "expected a bool", "use true or false")
    if hint is int and isinstance(value, bool):
        raise ConfigError(key, value, "expected an int, got a bool", "use an integer")
    if not isinstance(value, hint):
        raise ConfigError(key, value, f"expected {hint.__name__}, got {type(value).__name__}",
                          f"give a {hint.__name__}")
    return value


def check_fields(obj: Any) -> None:
    """Coerce every field of a (frozen) dataclass instance in place; raise ConfigError on a bad one."""
    hints = type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        new = coerce(canonical_value(f.metadata, value), hints[f.name], f.name, finite=f.metadata.get("finite", True))
        if new is not value:
            object.__setattr__(obj, f.name, new)


def parse_text(text: str, hint: Any, key: str) -> Any:
    """Parse a command-line or MLflow-param string into a value of type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return _parse_literal(text, args, key)
    if _is_union(hint):
        return _parse_union(text, args, key)
    if origin is tuple:
        items = [t.strip() for t in text.strip().strip("()[]").split(",") if t.strip()]
        item_hints = [args[0]] * len(items) if args[-1] is Ellipsis else list(args)
        if len(item_hints) != len(items):
            raise ConfigError(key, text, f"expected {len(args)} comma-separated items", "give that many")
        return tuple(parse_text(t, h, key) for t, h in zip(items, item_hints))
    return _parse_scalar(text, hint, key)


def _parse_literal(text: str, args: tuple, key: str) -> Any:
    for arg in args:
        if str(arg) == text:
            return arg
    raise ConfigError(key, text, "not one of the allowed values", f"use one of {list(args)}")


def _parse_union(text: str, args: tuple, key: str) -> Any:
    for arg in args:
        try:
            return parse_text(text, arg, key)
        except ConfigError:
            continue
    raise ConfigError(key, text, "cannot be parsed as any allowed type", "check the value's format")


def _parse_scalar(text: str, hint: Any, key: str) -> Any:
    if hint is str:
        return text
    if hint is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ConfigError(key, text, "not a boolean", "use true or false")
    try:
        return hint(text)
    except (TypeError, ValueError):
        raise ConfigError(key, text, f"not a valid {getattr(hint, '__name__', hint)}",
                          f"give a {getattr(hint, '__name__', hint)} literal") from None


def require(condition: bool, key: str, value: Any, problem: str, fix: str) -> None:
    """Raise ConfigError(key, value, problem, fix) unless ``condition`` holds."""
    if not condition:
        raise ConfigError(key, value, problem, fix)
