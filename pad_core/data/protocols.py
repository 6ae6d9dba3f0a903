"""Protocols as data: which manifest rows train, tune (dev) and test a model.

A benchmark is a JSON file in ``protocol_defs/``. Each protocol has row selectors per split:
``{"column": [allowed values], "exclude": {"column": [values]}}``. ``dev`` defaults to the train
selector applied to the manifest's dev rows. A group (P3 = mean of P3.1..P3.6) is how tables
aggregate sub-protocols. ``test_splits`` lets a cross-validation fold test on rows of any split (ATR-FAS's
ten folds); ``test_missing`` names modalities absent at test time (BIG-MoE's missing-modality protocols).

Membership: a row's split for a protocol comes from the manifest column ``split@<protocol>`` when the manifest has
one (official protocol lists re-partition identities per protocol; empty = the row is not in that protocol), else
from ``split``. ``"split_column": "<column>"`` on a protocol names its column explicitly (lists that do not follow
the naming). A group has no column of its own: each member uses its own.

Scoring level: ``"score_level": "frame"`` (default) or ``"video"``, for the whole benchmark or per protocol. At
video level the dev and test scores are the mean frame score per ``video`` id (FLIP lineage), and every metric is
computed over videos (pad_core.metrics.levels).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pad_core.errors import ConfigError

DEFS_DIR = Path(__file__).parent / "protocol_defs"
CARVE_POLICIES = ("if_none", "missing_subsets")
SPLIT_PREFIX = "split@"  # manifest column holding one protocol's membership: split@P2.1
SCORE_LEVELS = ("frame", "video")


@dataclass(frozen=True)
class Protocol:
    name: str  # e.g. "P3.2"
    benchmark: str  # e.g. "irisgeneral"
    train: dict[str, Any]  # row selector for training rows (split == train)
    test: dict[str, Any]  # row selector for test rows (split == test)
    dev: dict[str, Any]  # row selector for dev rows (split == dev)
    threshold_policy: str  # the benchmark's default threshold policy
    group: str = ""  # aggregate this protocol belongs to ("P3"), "" if none
    test_splits: tuple[str, ...] = ("test",)  # manifest splits the test selector picks from
    test_missing: tuple[str, ...] = ()  # modalities removed from every test sample (missing-modality protocols)
    split_column: str = ""  # manifest column holding this protocol's membership ("" = split@<name>, else split)
    score_level: str = "frame"  # "frame" or "video": the unit every metric counts

    def membership(self, columns) -> str:
        """The manifest column that says which rows train, tune and test this protocol: the declared
        ``split_column``, else ``split@<name>`` when the manifest has it, else ``split``."""
        if self.split_column:
            return self.split_column
        own = SPLIT_PREFIX + self.name
        return own if own in columns else "split"

    def rows(self, manifest: pd.DataFrame, split: str) -> pd.DataFrame:
        """The rows of ``split`` (train/dev/test); ``manifest["split"]`` holds this protocol's membership
        (pad_core.data.prepare.membership_view)."""
        selector = {"train": self.train, "dev": self.dev, "test": self.test}[split]
        splits = self.test_splits if split == "test" else (split,)
        return select_rows(manifest[manifest["split"].isin(splits)], selector)


@dataclass(frozen=True)
class Benchmark:
    name: str
    protocols: dict[str, Protocol]
    groups: dict[str, list[str]] = field(default_factory=dict)
    # When dev is carved from train subjects: "if_none" = only when the protocol's rows have no dev split at all;
    # "missing_subsets" = for every subset without dev rows of its own (a benchmark mixing member sets that ship a
    # dev split with sets that do not, JFSFDB). Declared per benchmark: changing it moves rows between splits.
    carve_dev: str = "if_none"
    # split -> column -> values the published dataset has no rows of in that split (IrisGeneral's Ab: no training
    # part); a protocol naming them there is not refused for their absence (pad_core.data.checks.absent_values)
    absent_by_design: dict[str, dict[str, list]] = field(default_factory=dict)

    def protocol(self, name: str) -> Protocol:
        if name not in self.protocols:
            raise ConfigError("data.protocol", name, f"not a protocol of {self.name}",
                              f"use one of {list(self.protocols)}")
        return self.protocols[name]

    def split_columns(self) -> set[str]:
        """Membership columns the protocols name explicitly (``split_column``)."""
        return {p.split_column for p in self.protocols.values() if p.split_column}

    def expand(self, names: list[str]) -> list[str]:
        """Protocol names with groups replaced by their members (``P3`` -> ``P3.1..P3.6``)."""
        out: list[str] = []
        for n in names:
            out.extend(self.groups.get(n, [n]))
        for n in out:
            self.protocol(n)
        return out


def select_rows(frame: pd.DataFrame, selector: dict[str, Any]) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    for column, values in selector.items():
        if column == "exclude":
            for col, bad in values.items():
                keep &= ~frame[col].astype(str).isin([str(v) for v in bad])
        else:
            keep &= frame[column].astype(str).isin([str(v) for v in values])
    return frame[keep]


def resolve_score_level(requested: str, protocol: Protocol) -> str:
    """``eval.score_level``: "protocol" means the level the protocol declares."""
    return protocol.score_level if requested == "protocol" else requested


def _score_level(value: Any, where: str) -> str:
    if value not in SCORE_LEVELS:
        raise ConfigError("score_level", value, f"not a scoring level ({where})", f"use one of {list(SCORE_LEVELS)}")
    return value


def _parse_benchmark(spec: dict[str, Any]) -> Benchmark:
    name, policy = spec["benchmark"], spec["threshold_policy"]
    level = _score_level(spec.get("score_level", "frame"), f"benchmark {name}")
    protocols = {
        pname: Protocol(name=pname, benchmark=name, train=p["train"], test=p["test"], dev=p.get("dev", p["train"]),
                        threshold_policy=p.get("threshold_policy", policy), group=p.get("group", ""),
                        test_splits=tuple(p.get("test_splits", ("test",))),
                        test_missing=tuple(p.get("test_missing", ())), split_column=str(p.get("split_column", "")),
                        score_level=_score_level(p.get("score_level", level), f"protocol {pname} of {name}"))
        for pname, p in spec["protocols"].items()
    }
    groups = {g: list(v["members"]) for g, v in spec.get("groups", {}).items()}
    carve = spec.get("carve_dev", "if_none")
    if carve not in CARVE_POLICIES:
        raise ConfigError(f"{name}.json carve_dev", carve, "unknown dev-carving policy", f"use one of {CARVE_POLICIES}")
    absent = {split: cols for split, cols in spec.get("absent_by_design", {}).items() if split in ("train", "test")}
    return Benchmark(name=name, protocols=protocols, groups=groups, carve_dev=carve, absent_by_design=absent)


@functools.cache
def load_benchmark(name: str) -> Benchmark:
    path = DEFS_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in DEFS_DIR.glob("*.json"))
        raise ConfigError("data.benchmark", name, "no protocol definitions for this benchmark",
                          f"use one of {known} or add pad_core/data/protocol_defs/{name}.json")
    return _parse_benchmark(json.loads(path.read_text()))
