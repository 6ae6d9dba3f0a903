"""Protocols as data: which manifest rows train, tune (dev) and test a model.

A benchmark is a JSON file in ``protocol_defs/``. Each protocol has row selectors per split:
``{"column": [allowed values], "exclude": {"column": [values]}}``. ``dev`` defaults to the train
selector applied to the manifest's dev rows. A group (P3 = mean of P3.1..P3.6) is how tables
aggregate sub-protocols. ``test_splits`` lets a cross-validation fold test on rows of any split (ATR-FAS's
ten folds); ``test_missing`` names modalities absent at test time (BIG-MoE's missing-modality protocols).
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

    def rows(self, manifest: pd.DataFrame, split: str) -> pd.DataFrame:
        selector = {"train": self.train, "dev": self.dev, "test": self.test}[split]
        splits = self.test_splits if split == "test" else (split,)
        return select_rows(manifest[manifest["split"].isin(splits)], selector)


@dataclass(frozen=True)
class Benchmark:
    name: str
    protocols: dict[str, Protocol]
    groups: dict[str, list[str]] = field(default_factory=dict)

    def protocol(self, name: str) -> Protocol:
        if name not in self.protocols:
            raise ConfigError("data.protocol", name, f"not a protocol of {self.name}",
                              f"use one of {list(self.protocols)}")
        return self.protocols[name]

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


def _parse_benchmark(spec: dict[str, Any]) -> Benchmark:
    name, policy = spec["benchmark"], spec["threshold_policy"]
    protocols = {
        pname: Protocol(name=pname, benchmark=name, train=p["train"], test=p["test"], dev=p.get("dev", p["train"]),
                        threshold_policy=p.get("threshold_policy", policy), group=p.get("group", ""),
                        test_splits=tuple(p.get("test_splits", ("test",))),
                        test_missing=tuple(p.get("test_missing", ())))
        for pname, p in spec["protocols"].items()
    }
    groups = {g: list(v["members"]) for g, v in spec.get("groups", {}).items()}
    return Benchmark(name=name, protocols=protocols, groups=groups)


@functools.cache
def load_benchmark(name: str) -> Benchmark:
    path = DEFS_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in DEFS_DIR.glob("*.json"))
        raise ConfigError("data.benchmark", name, "no protocol definitions for this benchmark",
                          f"use one of {known} or add pad_core/data/protocol_defs/{name}.json")
    return _parse_benchmark(json.loads(path.read_text()))
