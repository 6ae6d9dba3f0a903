"""Which config keys a run reads: each sub-config states it, this module walks them.

Every config dataclass has ``reads(cfg) -> frozenset[str]``: the names of its own fields that a run with the
full config ``cfg`` reads, *given that the sub-config itself is read*. A flat key is read when every level on its
path reads the next one: ``moe.sue.top_k`` is read when :class:`RunCfg` reads ``moe`` (a CLIP-family model on an
open_clip backbone), :class:`MoECfg` reads ``sue`` (``moe.kind=sue``) and :class:`SUECfg` reads ``top_k``.

The rules are written once, next to the fields, and asked by everything that needs them: the dead-toggle audit
(a row that changes only unread keys changes nothing, ``pad_core.audit.inactive``), the model factory (parts no
head or loss reads stay frozen), the losses (which terms a config adds) and the define-by-run search spaces (which
keys to draw after earlier draws, ``search_spaces/hpo.py``). ``tests/unit/test_reads.py`` checks the statement
against the model: changing an unread key leaves the built model, its outputs and its loss as they were.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pad_core.config.schema import RunCfg


def all_but(section: Any, *unread: str) -> frozenset[str]:
    """The field names of ``section`` less ``unread`` (each of which must be one of its fields)."""
    names = frozenset(f.name for f in dataclasses.fields(section))
    unknown = set(unread) - names
    if unknown:  # a rule naming no field would silently say "read": fail where it is written
        raise TypeError(f"{type(section).__name__} has no fields {sorted(unknown)}")
    return names - frozenset(unread)


def prefixed(section: Any, prefix: str) -> tuple[str, ...]:
    """The field names of ``section`` that start with ``prefix`` (a group named alike, e.g. BIG-MoE's ``peer_*``)."""
    return tuple(f.name for f in dataclasses.fields(section) if f.name.startswith(prefix))


def torchvision_backbone(name: str) -> bool:
    """Whether ``backbone.name`` is a torchvision network (the ImageNet baselines), not an open_clip model.

    The registry of those networks lives with them; it is imported when a rule needs it, so that importing the
    config (and asking a rule that does not depend on the backbone, as the search spaces do) loads no torch."""
    from pad_core.models.torchvision_names import is_torchvision

    return is_torchvision(name)


def _walk(section: Any, cfg: RunCfg, prefix: str) -> set[str]:
    out: set[str] = set()
    for name in section.reads(cfg):
        value = getattr(section, name)
        if dataclasses.is_dataclass(value):
            out |= _walk(value, cfg, f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


def read_keys(cfg: RunCfg) -> frozenset[str]:
    """Every flat key the run ``cfg`` reads (leaf keys only)."""
    return frozenset(_walk(cfg, cfg, ""))


def unread_keys(cfg: RunCfg, keys: list[str]) -> list[str]:
    """The leaf keys among ``keys`` that ``cfg`` never reads, in the order given."""
    read, known = read_keys(cfg), _leaf_keys(cfg)
    return [k for k in keys if k in known and k not in read]


def _leaf_keys(cfg: RunCfg) -> set[str]:
    from pad_core.config.flat import to_flat  # flat imports schema, which imports this module

    return set(to_flat(cfg))


def section_reads(cfg: RunCfg, key: str) -> bool:
    """Whether the sub-config holding ``key`` reads it, whatever the levels above it say: ``moe.sue`` asks
    :class:`MoECfg` (is ``moe.kind`` sue?), ``loss.dm_w`` asks :class:`LossCfg` (is class regularisation on?).

    For callers that know the section is in use (a search space tunes its own method's section); it needs no
    backbone registry."""
    *path, leaf = key.split(".")
    section: Any = cfg
    for part in path:
        section = getattr(section, part)
    return leaf in section.reads(cfg)
