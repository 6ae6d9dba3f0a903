"""Field metadata for fields added after runs were recorded whose new default computes something else.

``schema.ADDED`` covers a field whose default reproduces what every earlier run computed: it is hashed only when it
differs from that default. A field whose default *changes* what a recorded config computes (a corrected formula
made the default) needs more: the configs it acts on must get a new hash (their recorded runs computed the legacy
behaviour and must not be reused as the new one), while the configs it does not act on keep theirs.
:func:`changed` declares both; :func:`pad_core.config.flat.config_hash` reads it. Kept apart from ``schema`` so
that every section module (``moe_schema`` too, which ``schema`` imports) can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

UNLESS_LEGACY = "unless_legacy"


def changed(legacy: Any, when: Mapping[str, Any], unless: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """Metadata of a field added with a default that differs from what runs recorded before it computed.

    ``legacy``: the value that reproduces those runs. ``when``: flat key -> value, every one of which must hold
    for the field to act (e.g. ``{"moe.kind": "sue"}``); ``{}`` = always. ``unless``: flat key -> value, any one
    of which stops it acting (e.g. a loss weight of 0 that leaves the changed term out). The field enters the
    config hash only when it acts and differs from ``legacy``, so configs it does not act on, and configs that ask
    for the legacy behaviour, keep their hash; configs it acts on at any other value (the new default included)
    get a new one.
    """
    return MappingProxyType({"hash": UNLESS_LEGACY, "legacy": legacy, "when": MappingProxyType(dict(when)),
                             "unless": MappingProxyType(dict(unless or {}))})


ALIASES = "aliases"


def renamed(**old_to_new: str) -> Mapping[str, Any]:
    """Metadata of an option field whose values were renamed (``norm=lucidrains`` became ``norm=rms_both``).

    The old spellings stay accepted wherever a config is made (from_flat, the command line, recorded MLflow params,
    Python) and mean the new value, so a config holds one value per behaviour. The config hash renders the value in
    its old spelling (:func:`legacy_spelling`): a renamed value still computes what the runs recorded under the old
    name computed, so its configs keep their hashes and their finished cells stay reusable.
    """
    return MappingProxyType({ALIASES: MappingProxyType(dict(old_to_new))})


def canonical_value(metadata: Mapping[str, Any], value: Any) -> Any:
    """``value`` with an old spelling replaced by the name it now has (other values unchanged)."""
    aliases = metadata.get(ALIASES, {})
    return aliases.get(value, value) if isinstance(value, str) else value


def legacy_spelling(metadata: Mapping[str, Any], value: Any) -> Any:
    """The spelling the config hash uses: the old name of a renamed value (other values unchanged)."""
    old = {new: old for old, new in metadata.get(ALIASES, {}).items()}
    return old.get(value, value) if isinstance(value, str) else value
