"""Ablation tables from a tidy frame of finished runs: rows x protocols x metrics, mean±std over seeds.

The frame has one line per run with columns ``row``, ``protocol``, ``seed`` and ``test/<protocol>/<metric>``
values; it comes from MLflow (see ``pad_core.integrations.mlflow_runs.sweep_frame``) or from tests.
Rates are stored as fractions and printed as percentages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pad_core.metrics.report import metric_key


@dataclass(frozen=True)
class TableSpec:
    """What the table needs from the sweep's declaration (stored on the MLflow parent run)."""

    title: str
    rows: list[tuple[str, str]]  # (name, label) in order
    protocols: list[str]
    seeds: list[int]
    metrics: list[str]
    hashes: dict[str, str]  # row name -> declared config hash

    @classmethod
    def from_json(cls, text: str) -> TableSpec:
        d = json.loads(text)
        return cls(d["title"], [(r["name"], r["label"]) for r in d["rows"]], d["protocols"], d["seeds"], d["metrics"],
                   {r["name"]: r["hash"] for r in d["rows"]})

    def declared(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Runs of the declared rows, protocols and seeds with the declared config hash (others are ignored)."""
        keep = (frame["row"].map(self.hashes) == frame["config_hash"]) & frame["protocol"].isin(self.protocols)
        return frame[keep & frame["seed"].isin(self.seeds)]


def long_form(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """One line per (row, protocol, seed, metric) with the value in percent."""
    records = []
    for _, run in frame.iterrows():
        for m in spec.metrics:
            value = run.get(metric_key("test", run["protocol"], m), np.nan)
            records.append({"row": run["row"], "protocol": run["protocol"], "seed": int(run["seed"]), "metric": m,
                            "value": 100.0 * float(value)})
    return pd.DataFrame.from_records(records, columns=["row", "protocol", "seed", "metric", "value"])


def summarize(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Mean, std (ddof=1; 0 for one seed) and seed count per (row, protocol, metric), in declared order."""
    tidy = long_form(spec.declared(frame), spec)
    grouped = tidy.groupby(["row", "protocol", "metric"])["value"]
    stats = grouped.agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, n="count")
    index = pd.MultiIndex.from_product([[r for r, _ in spec.rows], spec.protocols, spec.metrics],
                                      names=["row", "protocol", "metric"])
    out = stats.reindex(index).reset_index()
    out["n"] = out["n"].fillna(0).astype(int)
    return out


def _cell(mean: float, std: float, n: int, expected: int) -> str:
    if n == 0:
        return "—"
    flag = "" if n >= expected else f" (n={n}/{expected})"
    return f"{mean:.2f}±{std:.2f}{flag}"


def wide(summary: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Rows x (protocol, metric) cells formatted as mean±std; cells missing seeds say so."""
    labels = dict(spec.rows)
    table = {}
    for (row, protocol, metric), g in summary.groupby(["row", "protocol", "metric"], sort=False):
        r = g.iloc[0]
        table.setdefault(labels[row], {})[f"{protocol} {metric.upper()}"] = _cell(r["mean"], r["std"], r["n"],
                                                                                   len(spec.seeds))
    columns = [f"{p} {m.upper()}" for p in spec.protocols for m in spec.metrics]
    return pd.DataFrame.from_dict(table, orient="index")[columns].reindex([labels[r] for r, _ in spec.rows])


def to_markdown(table: pd.DataFrame, title: str) -> str:
    header = "| " + " | ".join(["Row", *table.columns]) + " |"
    sep = "|" + "---|" * (len(table.columns) + 1)
    lines = [f"**{title}** (%, mean±std over seeds)", "", header, sep]
    lines += ["| " + " | ".join([str(idx), *map(str, vals)]) + " |" for idx, vals in zip(table.index, table.values)]
    return "\n".join(lines)
