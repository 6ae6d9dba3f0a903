"""Ablation sweeps as data: a baseline, named rows (flat config deltas), protocols and seeds.

Rows are walked as a grid (every row x protocol x seed cell gets the same budget); they are never
sampled by a search algorithm. A cell's identity is what decides its numbers: the config hash (seed and
protocol excluded), the protocol, the seed, the code version and the data manifest's content hash. A finished
run with the same identity, in this sweep or any other, makes training the cell again unnecessary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from pad_core.ablation.declare import SMOKE_SEEDS, base_for, for_scale, given, live_guesses, protocol_list
from pad_core.ablation.view import GridLayout, TableView
from pad_core.config import RunCfg, config_hash, from_flat, render_value, to_flat
from pad_core.errors import ConfigError, PadError, SweepError
from pad_core.sweep_args import SweepArgs

TABLE_METRICS = ("acer", "acc", "auc", "eer")


@dataclass(frozen=True)
class Row:
    name: str  # short id used in run names and tags ("rate1")
    label: str  # what the paper's table calls it ("Rate 1 (0, .1, .1, .1)")
    delta: dict[str, Any] = field(default_factory=dict)  # flat overrides over the sweep's base config


def cell_identity(cfg_hash: str, protocol: str, seed: int, code: str, data: str) -> str:
    """20 hex of the hash of everything that decides a cell's numbers (not the row's name, not the sweep)."""
    return hashlib.sha256(f"{cfg_hash}|{protocol}|s{seed}|{code}|{data}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Cell:
    row: Row
    protocol: str
    seed: int
    cfg: RunCfg
    identity: str = ""  # cell_identity(...), set by the sweep once it has read the data manifest

    @property
    def config_hash(self) -> str:
        return config_hash(self.cfg)

    def identify(self, code: str, data: str) -> Cell:
        return replace(self, identity=cell_identity(self.config_hash, self.protocol, self.seed, code, data))

    @property
    def key(self) -> str:
        """The cell's run within its sweep; other code or data is another run (with its own checkpoints)."""
        base = f"{self.row.name}|{self.protocol}|s{self.seed}|{self.config_hash}"
        return f"{base}|{self.identity[:12]}" if self.identity else base

    @property
    def run_name(self) -> str:
        return f"{self.row.name}·{self.protocol}·s{self.seed}"


@dataclass(frozen=True)
class AblationSpec:
    """One table as a sweep: the one declaration type. A sweep file declares it (``SWEEP = AblationSpec(title=...,
    rows=..., base=..., protocols=...)``, protocols may name groups, seeds are the demo scale's) and hands
    :meth:`for_args` to ``sweep_main``; ``for_args`` returns the same declaration resolved for the command line
    (named, groups expanded, seeds and rows of the scale, ``--set`` over the base). Rendering reads its
    :meth:`view`, which :meth:`describe` records on the MLflow parent run."""

    name: str = ""  # sweep id: MLflow parent run, Tune experiment and Train runs are named after it (for_args sets it)
    title: str = ""  # table caption ("MMoE Table 6: components")
    rows: tuple[Row, ...] = ()  # in table order
    protocols: tuple[str, ...] = ("P1",)  # protocols every row runs on; declared: or groups (P3 -> P3.1..P3.6)
    seeds: tuple[int, ...] = (0, 1)  # seeds per (row, protocol); declared: the demo scale's
    base: dict[str, Any] = field(default_factory=dict)  # flat config shared by all rows (benchmark, method)
    baseline: str = ""  # row the others are compared with ("" = first row)
    metrics: tuple[str, ...] = TABLE_METRICS  # columns per protocol; the first drives Δ and the p-value
    paper: dict[str, dict[str, float]] = field(default_factory=dict)  # row -> table column -> the paper's number
    grid: tuple[str, ...] = ()  # two flat keys the rows cross (MoAE-CR Table 5): also printed as a key1 x key2 grid
    # base keys whose value the paper does not give -> why this value (shown by --plan; not in the declaration, so
    # recorded sweeps keep theirs)
    guesses: dict[str, str] = field(default_factory=dict)
    paper_seeds: tuple[int, ...] = (0, 1, 2)  # seeds at the paper scales (paper, rehearsal)
    # rows --smoke-test trains, in this order (default: the baseline and the last other row, see smoke_table)
    smoke_rows: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [r.name for r in self.rows]
        if len(set(names)) != len(names):
            raise SweepError("rows", names, "row names repeat", "give every row a unique name")
        if not self.rows or not self.protocols or not self.seeds:
            raise SweepError(self.name, None, "a sweep needs rows, protocols and seeds", "declare all three")
        if self.baseline and self.baseline not in names:
            raise SweepError("baseline", self.baseline, "not one of the rows", f"use one of {names}")
        if self.grid and len(self.grid) != 2:
            raise SweepError("grid", self.grid, "a grid layout needs exactly two config keys",
                             "give (row key, column key), e.g. ('moe.moae.num_experts', 'moe.moae.heads')")
        unknown = [n for n in self.smoke_rows if n not in names]
        if unknown or len(self.smoke_rows) == 1 or (self.smoke_rows and self.baseline_row not in self.smoke_rows):
            raise SweepError("smoke_rows", list(self.smoke_rows), "a smoke table needs two or more declared rows, "
                             f"the baseline {self.baseline_row!r} among them", f"name it and others of {names}")

    def for_args(self, args: SweepArgs) -> AblationSpec:
        """This declaration for parsed command-line ``args`` (``pad_core.sweep_args``): --smoke-test shrinks the
        default protocols, seeds and rows; what the command line names is kept."""
        base = base_for(self.base, args)
        protocols = protocol_list(args.protocols, self.protocols, base)
        protocols = protocols[:1] if args.smoke_test and args.protocols is None else protocols
        seeds = given(args.seeds, for_scale(args, smoke=SMOKE_SEEDS, paper=self.paper_seeds, demo=self.seeds))
        return replace(self, name=args.name, rows=self.smoke_table() if args.smoke_test else self.rows,
                       protocols=protocols, seeds=seeds, base=base, guesses=live_guesses(self.base, base))

    def smoke_table(self) -> tuple[Row, ...]:
        """The declared ``smoke_rows``, else the baseline and the last other row (the method row in the papers'
        tables, never a full-size ImageNet baseline that the smoke scale cannot shrink): enough for the table's
        comparison."""
        if self.smoke_rows:
            by_name = {r.name: r for r in self.rows}
            return tuple(by_name[n] for n in self.smoke_rows)
        first = next((r for r in self.rows if r.name == self.baseline), self.rows[0])
        return first, next(r for r in reversed(self.rows) if r is not first)

    @property
    def baseline_row(self) -> str:
        return self.baseline or self.rows[0].name

    def cells(self) -> list[Cell]:
        """Every (row, protocol, seed) cell with its validated config; fails before anything runs."""
        return [Cell(row, p, s, self.row_config(row, p, s)) for row in self.rows for p in self.protocols
                for s in self.seeds]

    def shadowed(self, keys) -> list[str]:
        """Base keys every row's delta overrides: a ``--set`` of them would change nothing."""
        return [k for k in keys if all(k in row.delta for row in self.rows)]

    def row_config(self, row: Row, protocol: str, seed: int) -> RunCfg:
        try:
            return from_flat({**self.base, **row.delta, "data.protocol": protocol, "train.seed": seed})
        except PadError as err:
            raise ConfigError(f"row {row.name!r}: {err.key}", err.value, err.problem, err.fix) from None

    def describe(self) -> str:
        """Compact JSON of the declaration's view, stored on the MLflow parent run so tables rebuild from MLflow.

        Each row carries its config hash, so a table uses only runs of exactly the declared configs.
        """
        return self.view().to_json()

    def view(self) -> TableView:
        """What rendering reads: rows with their config hashes, the benchmark's groups, the grid's positions."""
        first = {r.name: self.row_config(r, self.protocols[0], self.seeds[0]) for r in self.rows}
        return TableView(self.title, [(r.name, r.label) for r in self.rows], list(self.protocols), list(self.seeds),
                         list(self.metrics), {name: config_hash(cfg) for name, cfg in first.items()}, self.groups(),
                         self.baseline_row, self.layout(first), self.paper, self.name,
                         {r.name: {k: render_value(v) for k, v in r.delta.items()} for r in self.rows})

    def layout(self, configs: dict[str, RunCfg]) -> GridLayout | None:
        """Each row's place on the declared grid, from its full config ``configs[row]`` (so a baseline without a
        delta still has its place); None when the sweep declares no grid."""
        if not self.grid:
            return None
        at = {}
        for row, cfg in configs.items():
            flat = to_flat(cfg)
            missing = [k for k in self.grid if k not in flat]
            if missing:
                raise SweepError("grid", missing, "not config keys", "use keys listed by python -m pad_core keys")
            at[row] = tuple(render_value(flat[k]) for k in self.grid)
        return GridLayout((self.grid[0], self.grid[1]), at)

    def groups(self) -> dict[str, list[str]]:
        """The benchmark's protocol groups whose members the sweep runs (table columns P2, P3, F)."""
        from pad_core.data.protocols import load_benchmark  # data layer: reads the protocol JSON

        cfg = self.row_config(self.rows[0], self.protocols[0], self.seeds[0])
        groups = load_benchmark(cfg.data.benchmark).groups
        return {g: m for g, m in groups.items() if len(m) > 1 and set(m) <= set(self.protocols)}
