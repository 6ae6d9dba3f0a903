"""Flat dotted keys <-> nested frozen configs, and the config hash.

The same keys serve Tune's ``param_space``, Optuna parameter names, MLflow params and ``--set``:
``moe.soft.mask_rates``, ``optim.lr``. Values keep their Python types in flat dicts; strings
(command line, MLflow params) are parsed by the annotated field type.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pad_core.config.fieldcheck import parse_text, type_hints
from pad_core.config.hash_rules import ALIASES, UNLESS_LEGACY, canonical_value, legacy_spelling
from pad_core.config.schema import RunCfg
from pad_core.errors import ConfigError, PadError

HASH_LEN = 12


def to_flat(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dataclass -> ``{"dotted.key": value}`` (leaves only)."""
    flat: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            flat.update(to_flat(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def all_keys(cfg_cls: type = RunCfg) -> list[str]:
    return list(to_flat(cfg_cls()).keys())


@functools.cache
def _known_keys() -> frozenset[str]:
    return frozenset(all_keys())


def _field_hint(cls: type, path: list[str]) -> Any:
    hint: Any = cls
    for part in path:
        hints = type_hints(hint)
        hint = hints[part]
    return hint


def _unknown_key(key: str, known: Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
    fix = f"did you mean {close}?" if close else "run `python -m pad_core keys` to list the valid keys"
    return ConfigError(key, None, "unknown config key", fix)


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return nested


def _rebuild(obj: Any, changes: dict[str, Any], prefix: str) -> Any:
    kwargs = {}
    for name, value in changes.items():
        current = getattr(obj, name)
        kwargs[name] = _rebuild(current, value, f"{prefix}{name}.") if dataclasses.is_dataclass(current) else value
    try:
        return dataclasses.replace(obj, **kwargs)
    except PadError as err:
        raise err.prefixed(prefix.rstrip(".")) if prefix else err from None


def parse_flat(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Each key checked against the schema and each string parsed by its field's type, one key at a time: what
    can be refused without the other keys (cross-field rules run when the config is built). The command line
    calls it on ``--set`` while its arguments are parsed, before any heavy import."""
    known = _known_keys()
    parsed: dict[str, Any] = {}
    for key, value in flat.items():
        if key not in known:
            raise _unknown_key(key, known)
        if isinstance(value, str):
            value = canonical_value(renamed_fields().get(key, {}), value)  # an old option name: its new one
            value = parse_text(value, _field_hint(RunCfg, key.split(".")), key)
        elif isinstance(value, list):
            value = tuple(value)
        parsed[key] = value
    return parsed


def from_flat(flat: Mapping[str, Any], base: RunCfg | None = None) -> RunCfg:
    """Apply flat overrides to ``base`` (default: ``RunCfg()``); strings are parsed by field type."""
    return _rebuild(base or RunCfg(), _nest(parse_flat(flat)), "")


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["optim.lr=1e-3", ...]`` -> ``{"optim.lr": "1e-3"}`` (values parsed later by field type)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(item, None, "not a key=value assignment", "write e.g. --set optim.lr=1e-3")
        out[key.strip()] = value.strip()
    return out


def render_value(value: Any) -> str:
    """A flat value as an MLflow param / tag string that :func:`from_flat` parses back."""
    if isinstance(value, tuple):
        return ",".join(render_value(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def to_params(cfg: RunCfg) -> dict[str, str]:
    return {k: render_value(v) for k, v in to_flat(cfg).items()}


def hashed_keys(cfg_cls: type = RunCfg, prefix: str = "") -> set[str]:
    """Keys that enter the config hash (fields without ``metadata={"hash": False}``)."""
    keys: set[str] = set()
    for f in dataclasses.fields(cfg_cls):
        hint = type_hints(cfg_cls)[f.name]
        if dataclasses.is_dataclass(hint):
            keys |= hashed_keys(hint, f"{prefix}{f.name}.")
        elif f.metadata.get("hash", True):
            keys.add(f"{prefix}{f.name}")
    return keys


@functools.cache
def added_defaults(cfg_cls: type = RunCfg, prefix: str = "") -> dict[str, str]:
    """Rendered defaults of fields marked ``ADDED`` (schema.py): the hash leaves them out at these values."""
    out: dict[str, str] = {}
    for f in dataclasses.fields(cfg_cls):
        hint = type_hints(cfg_cls)[f.name]
        if dataclasses.is_dataclass(hint):
            out |= added_defaults(hint, f"{prefix}{f.name}.")
        elif f.metadata.get("hash") == "unless_default":
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            out[f"{prefix}{f.name}"] = render_value(default)
    return out


Conditions = tuple[tuple[str, str], ...]  # (flat key, rendered value) pairs


@functools.cache
def legacy_rules(cfg_cls: type = RunCfg, prefix: str = "") -> dict[str, tuple[str, Conditions, Conditions]]:
    """Fields marked ``changed(legacy, when, unless)`` (hash_rules.py): key -> (rendered legacy value, the
    conditions under which it acts, those under which it does not), rendered."""
    out: dict[str, tuple[str, Conditions, Conditions]] = {}
    for f in dataclasses.fields(cfg_cls):
        hint = type_hints(cfg_cls)[f.name]
        if dataclasses.is_dataclass(hint):
            out |= legacy_rules(hint, f"{prefix}{f.name}.")
        elif f.metadata.get("hash") == UNLESS_LEGACY:
            # a condition may name a renamed option by its old spelling: it is compared with the value a config holds
            when, unless = (tuple((k, render_value(canonical_value(renamed_fields().get(k, {}), v)))
                                  for k, v in f.metadata[c].items()) for c in ("when", "unless"))
            legacy = canonical_value(f.metadata, f.metadata["legacy"])  # a renamed field's legacy value, new spelling
            out[f"{prefix}{f.name}"] = (render_value(legacy), when, unless)
    return out


@functools.cache
def renamed_fields(cfg_cls: type = RunCfg, prefix: str = "") -> dict[str, Mapping[str, Any]]:
    """Flat key -> field metadata of the fields whose option values were renamed (``hash_rules.renamed``)."""
    out: dict[str, Mapping[str, Any]] = {}
    for f in dataclasses.fields(cfg_cls):
        hint = type_hints(cfg_cls)[f.name]
        if dataclasses.is_dataclass(hint):
            out |= renamed_fields(hint, f"{prefix}{f.name}.")
        elif ALIASES in f.metadata:
            out[f"{prefix}{f.name}"] = f.metadata
    return out


def left_out_of_hash(key: str, rendered: dict[str, str]) -> bool:
    """Whether a field stays out of the hash of the config ``rendered`` (flat, rendered values): an ADDED field at
    its default, a ``changed`` field that does not act here or is at its legacy value. Either way the config
    computes what configs recorded before the field existed computed, so it keeps their hash."""
    if key in added_defaults():
        return added_defaults()[key] == rendered[key]
    if key in legacy_rules():
        legacy, when, unless = legacy_rules()[key]
        acts = all(rendered[k] == v for k, v in when) and not any(rendered[k] == v for k, v in unless)
        return rendered[key] == legacy or not acts
    return False


# Identity axes of a sweep cell: a row's hash is the same across its protocols and seeds.
CELL_AXES = ("data.protocol", "train.seed")


def config_hash(cfg: RunCfg) -> str:
    """Stable short hash of what a run computes, excluding the seed, the protocol and runtime-only fields."""
    keep = hashed_keys() - set(CELL_AXES)
    flat = to_flat(cfg)
    rendered = {k: render_value(v) for k, v in flat.items()}
    payload = {k: hashed_value(k, flat[k]) for k in sorted(rendered) if k in keep and not left_out_of_hash(k, rendered)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:HASH_LEN]


def hashed_value(key: str, value: Any) -> str:
    """A value as the hash reads it: rendered, and a renamed option value in its old spelling (the same computation
    as the runs recorded under the old name, so the same hash)."""
    return render_value(legacy_spelling(renamed_fields().get(key, {}), value))


def diff(a: RunCfg, b: RunCfg) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two configs: ``{key: (a_value, b_value)}``."""
    fa, fb = to_flat(a), to_flat(b)
    return {k: (fa[k], fb[k]) for k in fa if fa[k] != fb[k]}
