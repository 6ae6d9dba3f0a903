"""One paper table as a sweep declaration: its rows, base config, protocols, baseline, seeds and metrics.

A sweep file states a :class:`GridSweep` and hands ``GridSweep.spec`` to ``sweep_main``; the command line
(``--protocols``, ``--seeds``, ``--set``, ``--smoke-test``, ``--scale``) adjusts it the same way for every file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pad_core.ablation.spec import TABLE_METRICS, AblationSpec, Row
from pad_core.config import DataCfg, is_paper_scale
from pad_core.data.protocols import load_benchmark


@dataclass(frozen=True)
class GridSweep:
    title: str  # table caption ("MMoE Table 6: components")
    rows: tuple[Row, ...]  # in table order
    base: dict[str, Any]  # flat config every row starts from (benchmark, method hyperparameters)
    protocols: tuple[str, ...] = ("P1",)  # protocols or groups (P3 -> P3.1..P3.6, F -> F1..F10)
    baseline: str = ""  # row the others are compared with ("" = the first)
    metrics: tuple[str, ...] = TABLE_METRICS  # table columns per protocol; the first drives Δ and the p-value
    demo_seeds: tuple[int, ...] = (0, 1)  # seeds at the demo scale
    paper_seeds: tuple[int, ...] = (0, 1, 2)  # seeds at the paper scale
    paper: dict[str, dict[str, float]] = field(default_factory=dict)  # row -> "<protocol> <METRIC>" -> paper's %
    grid: tuple[str, ...] = ()  # (row key, column key): also print the first metric as a crossed grid + heatmap

    def protocol_list(self, requested) -> tuple[str, ...]:
        benchmark = load_benchmark(self.base.get("data.benchmark", DataCfg.benchmark))
        return tuple(benchmark.expand(list(requested or self.protocols)))

    def smoke_rows(self) -> tuple[Row, ...]:
        """The baseline and the last other row (the method row in the papers' tables, never a full-size
        ImageNet baseline that the smoke scale cannot shrink): enough for the table's comparison."""
        first = next((r for r in self.rows if r.name == self.baseline), self.rows[0])
        return first, next(r for r in reversed(self.rows) if r is not first)

    def spec(self, args) -> AblationSpec:
        """The sweep for parsed command-line ``args`` (see ``pad_core.integrations.cli``)."""
        smoke = args.smoke_test
        protocols = self.protocol_list(args.protocols)
        seeds = args.seeds or ((0,) if smoke else self.paper_seeds if is_paper_scale(args.scale) else self.demo_seeds)
        return AblationSpec(name=args.name, title=self.title, rows=self.smoke_rows() if smoke else self.rows,
                            protocols=protocols[:1] if smoke else protocols, seeds=seeds,
                            base={**self.base, **args.overrides}, baseline=self.baseline, metrics=self.metrics,
                            grid=self.grid, paper=self.paper)


def paper_columns(numbers: dict[str, Any], metrics: tuple[str, ...], protocol: str = "") -> dict[str, dict[str, float]]:
    """The papers' numbers as table cells: ``{row: (acer, acc, ...)}`` on ``protocol``, or
    ``{row: {protocol: (acer, ...)}}``; a bare number is the first metric. Returns row -> column -> value."""
    out: dict[str, dict[str, float]] = {}
    for row, value in numbers.items():
        per_protocol = value if isinstance(value, dict) else {protocol: value}
        for proto, values in per_protocol.items():
            values = values if isinstance(values, tuple) else (values,)
            out.setdefault(row, {}).update({f"{proto} {m.upper()}": float(v) for m, v in zip(metrics, values)})
    return out
