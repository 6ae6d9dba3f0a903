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
from pad_core.errors import SweepError


class PaperBase(dict):
    """A method's paper base: the flat config every row of its tables starts from (a plain dict to every consumer)
    plus ``guessed``, the keys whose value the paper does not give, each with why that value was chosen. ``--plan``
    marks them; docs/SCHEDULES.md lists them per paper. A guess must name a key the base sets: a guessed default
    left implicit would be invisible where a user reads the config."""

    def __init__(self, values: dict[str, Any], guessed: dict[str, str]) -> None:
        unset = sorted(set(guessed) - set(values))
        if unset:
            raise SweepError("guessed", unset, "guesses of keys the base does not set",
                             "set each guessed key in the base, with its value")
        super().__init__(values)
        self.guessed = dict(guessed)  # a plain dict: the base may be pickled (Tune trial configs)


def live_guesses(base: dict[str, Any], effective: dict[str, Any]) -> dict[str, str]:
    """The guesses of ``base`` still in force in ``effective`` (the base after scale and ``--set``): a key set to
    another value is the user's choice, not the guess."""
    return {k: why for k, why in getattr(base, "guessed", {}).items() if effective.get(k) == base[k]}


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

    def protocol_list(self, requested, overrides: dict[str, Any] | None = None) -> tuple[str, ...]:
        return protocol_list(requested, self.protocols, {**self.base, **(overrides or {})})

    def smoke_rows(self) -> tuple[Row, ...]:
        """The baseline and the last other row (the method row in the papers' tables, never a full-size
        ImageNet baseline that the smoke scale cannot shrink): enough for the table's comparison."""
        first = next((r for r in self.rows if r.name == self.baseline), self.rows[0])
        return first, next(r for r in reversed(self.rows) if r is not first)

    def spec(self, args) -> AblationSpec:
        """The sweep for parsed command-line ``args`` (see ``pad_core.integrations.cli``)."""
        smoke = args.smoke_test  # shrinks the default protocols and seeds; what the command line names is kept
        protocols = self.protocol_list(args.protocols, args.overrides)
        protocols = protocols[:1] if smoke and args.protocols is None else protocols
        default_seeds = (0,) if smoke else self.paper_seeds if is_paper_scale(args.scale) else self.demo_seeds
        seeds = given(args.seeds, default_seeds)
        base = {**self.base, **args.overrides}
        return AblationSpec(name=args.name, title=self.title, rows=self.smoke_rows() if smoke else self.rows,
                            protocols=protocols, seeds=seeds, base=base, baseline=self.baseline, metrics=self.metrics,
                            grid=self.grid, paper=self.paper, guesses=live_guesses(self.base, base))


def given(value, default):
    """A flag's value, or ``default`` when the flag was not given (None): never for a falsy value such as 0 or an
    empty list, which the command line refuses instead of replacing."""
    return default if value is None else value


def protocol_list(requested, default, base: dict[str, Any]) -> tuple[str, ...]:
    """``--protocols`` (or the sweep's ``default``) with groups expanded to their members on the benchmark of
    ``base`` (P3 -> P3.1..P3.6, F -> F1..F10): the one path every sweep file takes. A protocol reached twice
    (P3,P3.1) is refused: it would train the same cells twice into the same runs."""
    benchmark = load_benchmark(base.get("data.benchmark", DataCfg.benchmark))
    names = [n.strip() for n in given(requested, default)]
    expanded = benchmark.expand(names)
    repeated = sorted({p for p in expanded if expanded.count(p) > 1})
    if repeated:
        groups = {g: m for g, m in benchmark.groups.items() if g in names}
        raise SweepError("--protocols", ",".join(names), f"protocols {repeated} are named more than once "
                         f"(groups include their members: {groups})",
                         f"name each protocol once, e.g. --protocols {','.join(dict.fromkeys(expanded))}")
    return tuple(expanded)


def search_protocol(args, default: str, base: dict[str, Any]) -> str:
    """The one protocol a search runs in: ``--search-protocol``, else ``--protocols`` naming exactly one protocol,
    else ``default``. Several protocols (or a group) are refused: a search would silently use only the first."""
    if args.search_protocol is not None and args.protocols is not None:
        raise SweepError("--protocols", ",".join(args.protocols), "given with --search-protocol: a search runs in "
                         "one protocol, so one of them would be ignored", "give only --search-protocol")
    flag, requested = ("--search-protocol", [args.search_protocol]) if args.search_protocol is not None else \
        ("--protocols", args.protocols)
    protocols = protocol_list(requested, (default,), base)
    if len(protocols) != 1:
        raise SweepError(flag, ",".join(requested), f"names {len(protocols)} protocols {list(protocols)}: a search "
                         "runs in one", f"give one protocol, e.g. --search-protocol {protocols[0]}; walk several "
                         "protocols with --mode ablation")
    return protocols[0]


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
