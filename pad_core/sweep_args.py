"""The parsed command line a sweep file's declarations read: :class:`SweepArgs`, and the file's own flags.

Light on purpose (argparse and dataclasses only): ``--help`` and every refusal of a flag answer before torch,
Ray or MLflow load. ``pad_core.integrations.cli.sweep_main`` builds one ``SweepArgs`` per command; the
declarations (``AblationSpec.for_args``, ``SearchSpec.for_args``, a file's ``get_search``) read only its fields.

A sweep file with flags of its own declares them as a frozen dataclass, ``Flags``, passed as
``sweep_main(..., flags=Flags)``: each field is one flag (``expert0`` -> ``--expert0``), its default the flag's
default, its ``metadata`` the argparse keywords (``help``, ``choices``, ``metavar``, ``type``, ``action="append"``
for a repeatable flag, read as a tuple). The values reach the declaration typed, as ``args.own`` (a ``Flags``).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any


def run_scale(scale: str, smoke_test: bool) -> str:
    """The override set a run uses: --smoke-test shrinks demo and paper runs to seconds; a rehearsal keeps its
    paper-scale shapes and only takes the smoke grid (baseline and method row, one seed, one protocol)."""
    return scale if scale == "rehearsal" or not smoke_test else "smoke"


@dataclass(frozen=True)
class SweepArgs:
    """What the command line asks of a sweep, handed to the sweep file's declarations."""

    name: str  # sweep id (--sweep-name, else <file>-<scale>)
    overrides: dict[str, Any]  # flat config over the sweep's own base: scale, then flags, then --set
    scale: str = "demo"  # --scale
    smoke_test: bool = False  # --smoke-test: one seed, one protocol, the smoke rows, seconds-long trials
    mode: str = "ablation"  # --mode: ablation (the declared grid) or search
    plan: bool = False  # --plan: print the cells and exit
    protocols: tuple[str, ...] | None = None  # --protocols as given (groups not expanded); None: not given
    seeds: tuple[int, ...] | None = None  # --seeds; None: the declaration's seeds for the scale
    set: tuple[str, ...] = ()  # --set KEY=VALUE items as given (their checked values are in ``overrides``)
    search_protocol: str | None = None  # --search-protocol
    num_samples: int | None = None  # --num-samples; None: the search's size for the scale
    top_k: int | None = None  # --top-k
    confirm_seeds: tuple[int, ...] | None = None  # --confirm-seeds
    scheduler: str | None = None  # --scheduler (None: the search's own)
    grace_period: int | None = None  # --grace-period
    reduction_factor: int | None = None  # --reduction-factor
    target_diff: float | None = None  # --target-diff (with --plan of an ablation)
    allow_random_init: bool = False  # --allow-random-init
    weights: dict[str, Any] = field(default_factory=dict)  # weight keys the command line names, checked values
    own: Any = None  # the sweep file's own flags: an instance of its Flags dataclass (None: it has none)

    @property
    def run_scale(self) -> str:
        return run_scale(self.scale, self.smoke_test)

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace, name: str, overrides: dict[str, Any], *,
                       weights: dict[str, Any] | None = None, flags: type | None = None) -> SweepArgs:
        """From argparse's namespace (the one place that reads it by name): the shared flags, and the file's
        own ``flags`` dataclass filled from the same namespace."""
        # every field from the namespace, strictly: a renamed argparse dest fails here instead of leaving a default
        shared = {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)
                  if f.name not in ("name", "overrides", "weights", "own")}
        for key in ("protocols", "seeds", "set", "confirm_seeds"):  # argparse gives lists: frozen args hold tuples
            if shared.get(key) is not None:
                shared[key] = tuple(shared[key])
        return cls(name=name, overrides=overrides, weights=dict(weights or {}), own=own_flags(flags, ns), **shared)


def add_own_flags(group, flags: type) -> None:
    """One argparse flag per field of the file's ``flags`` dataclass (``field.metadata``: argparse keywords)."""
    hints = typing.get_type_hints(flags)  # real classes, whether or not the file postpones its annotations
    for f in dataclasses.fields(flags):
        keywords = dict(f.metadata)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        keywords["default"] = list(default) if keywords.get("action") == "append" else default
        if keywords.get("action") is None and "type" not in keywords:
            if hints[f.name] is bool:  # argparse would make it a string flag: "--x False" would be true
                raise TypeError(f"{flags.__name__}.{f.name}: a bool flag needs metadata action='store_true'")
            if hints[f.name] in (int, float):
                keywords["type"] = hints[f.name]
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, **keywords)


def own_flags(flags: type | None, ns: argparse.Namespace) -> Any:
    """The file's flags as its dataclass (repeatable flags as tuples); None for a file without flags."""
    if flags is None:
        return None
    values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(flags)}
    return flags(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
