"""The table's view of a sweep declaration: what rendering needs, built from the declaration or read back from the
JSON recorded on the sweep's MLflow parent run (tag ``pad.spec``).

The declaration (:class:`~pad_core.ablation.spec.AblationSpec`) is the one source: ``AblationSpec.view()`` resolves
what only it can (each row's config hash, the benchmark's protocol groups, each row's place on a crossed grid) and
``AblationSpec.describe()`` records exactly ``view().to_json()``. A table of a finished sweep is rebuilt with
:meth:`TableView.from_json`, so a recorded sweep renders without the code that declared it. The JSON keys are the
recorded format: they never change (sweeps recorded by earlier code must still parse, tests/unit/test_recorded_spec.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class GridLayout:
    """Where each row sits on the two config keys a sweep crosses (MoAE-CR Table 5: experts x heads)."""

    axes: tuple[str, str]  # the declared keys, (row key, column key)
    at: dict[str, tuple[str, str]]  # row name -> its rendered values of the two keys

    def as_json(self) -> dict[str, Any]:
        return {"axes": list(self.axes), "at": {row: list(values) for row, values in self.at.items()}}


@dataclass(frozen=True)
class TableView:
    """A declared table as rendering reads it (rows as ``(name, label)``, protocols expanded, hashes resolved)."""

    title: str
    rows: list[tuple[str, str]]  # (name, label) in order
    protocols: list[str]
    seeds: list[int]
    metrics: list[str]
    hashes: dict[str, str]  # row name -> declared config hash: only runs of exactly these configs are tabulated
    groups: dict[str, list[str]] = field(default_factory=dict)  # "P2" -> ["P2.1", "P2.2"]: aggregate columns
    baseline: str = ""  # row the others are compared with ("" = the first)
    layout: GridLayout | None = None  # the crossed layout, when the declaration names two grid keys
    paper: dict = field(default_factory=dict)  # row -> "<protocol> <METRIC>" -> the paper's number (%)
    name: str = ""  # the sweep id
    deltas: dict[str, dict[str, str]] = field(default_factory=dict)  # row -> its config delta, values rendered

    @classmethod
    def from_json(cls, text: str) -> TableView:
        d = json.loads(text)
        grid = d.get("grid")
        layout = GridLayout(tuple(grid["axes"]), {r: tuple(v) for r, v in grid["at"].items()}) if grid else None
        return cls(d["title"], [(r["name"], r["label"]) for r in d["rows"]], d["protocols"], d["seeds"], d["metrics"],
                   {r["name"]: r["hash"] for r in d["rows"]}, d.get("groups", {}), d.get("baseline", ""), layout,
                   d.get("paper", {}), d.get("name", ""), {r["name"]: r.get("delta", {}) for r in d["rows"]})

    def to_json(self) -> str:
        """The recorded form (compact; keys in the recorded order; ``grid`` and ``paper`` only when declared)."""
        rows = [{"name": name, "label": label, "delta": self.deltas.get(name, {}), "hash": self.hashes[name]}
                for name, label in self.rows]
        return json.dumps({"name": self.name, "title": self.title, "rows": rows, "protocols": list(self.protocols),
                           "seeds": list(self.seeds), "baseline": self.baseline_row, "metrics": list(self.metrics),
                           "groups": self.groups, **({"grid": self.layout.as_json()} if self.layout else {}),
                           **({"paper": self.paper} if self.paper else {})}, separators=(",", ":"))

    @property
    def baseline_row(self) -> str:
        return self.baseline or self.rows[0][0]

    def columns(self) -> list[str]:
        """Protocols in declared order, each complete group right after its last member (P2.1, P2.2, P2)."""
        out = []
        for p in self.protocols:
            out.append(p)
            out += [g for g, members in self.groups.items() if members and members[-1] == p
                    and set(members) <= set(self.protocols)]
        return out

    def declared(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Runs (a frame: row, protocol, seed, config_hash) of the declared rows, protocols and seeds with the
        declared config hash (others are ignored)."""
        keep = (frame["row"].map(self.hashes) == frame["config_hash"]) & frame["protocol"].isin(self.protocols)
        return frame[keep & frame["seed"].isin(self.seeds)]
