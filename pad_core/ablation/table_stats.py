"""A table's statistics in one place: cell intervals, paired comparisons and the resolvable difference, from the
tabulated runs' test scores (:mod:`uncertainty`, :mod:`paired`, :mod:`resolution`), with their footnote."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from pad_core.ablation.paired import RESAMPLES_PER_ROW, Paired, paired_bootstrap
from pad_core.ablation.resolution import Resolution, resolution
from pad_core.ablation.table import long_form
from pad_core.ablation.uncertainty import (
    INTERVAL_COLUMNS,
    Bootstrap,
    Key,
    RunScores,
    cell_intervals,
    draw_runs,
    method_note,
)
from pad_core.ablation.view import TableView
from pad_core.errors import PadError
from pad_core.metrics.report import metric_key

INTERVALS = ("ci", "std")
BOOTSTRAP = Bootstrap()  # B = 1000, 95%, base seed 0: the tables' default


@dataclass(frozen=True)
class TableStats:
    interval: str  # what the cells show: "ci" ([lo, hi]) or "std" (±std over seeds)
    intervals: pd.DataFrame  # row, protocol, metric, lo, hi, basis (empty without scores)
    paired: dict[str, Paired] = field(default_factory=dict)  # row -> its paired bootstrap against the baseline
    resolution: Resolution | None = None
    note: str = ""  # the footnote's sentences
    level: float = 0.95  # the intervals' coverage (the caption states it)
    runs: dict[Key, RunScores] = field(default_factory=dict)  # the tabulated runs' test scores (the figures too)


def cells_of(frame: pd.DataFrame) -> dict[tuple[str, str], list[Key]]:
    """(row, protocol) -> its tabulated runs (row, protocol, seed)."""
    out: dict[tuple[str, str], list[Key]] = {}
    for row, protocol, seed in zip(frame["row"], frame["protocol"], frame["seed"].astype(int)):
        out.setdefault((row, protocol), []).append((row, protocol, seed))
    return out


def table_stats(frame: pd.DataFrame, spec: TableView, runs: dict[Key, RunScores], boot: Bootstrap = BOOTSTRAP,
                interval: str | None = None) -> TableStats:
    """``frame``: the tabulated runs (one per row x protocol x seed); ``runs``: the test scores of those that
    have a ``scores.csv``. ``interval`` None shows intervals when any cell has one, else ±std; "ci" when no cell
    can have one is refused (there is nothing to show)."""
    if interval is not None and interval not in INTERVALS:
        raise PadError("--interval", interval, "unknown display", f"give one of {list(INTERVALS)}")
    cells = cells_of(frame)
    tabulated = {k for keys in cells.values() for k in keys}
    compared = len(spec.rows) - 1  # Holm's family: B keeps its smallest adjusted p, 2m/(B+1), at 0.01 or below
    boot = replace(boot, compared=max(boot.compared, RESAMPLES_PER_ROW * compared))
    metric, long = spec.metrics[0], long_form(frame, spec)
    runs = {k: v for k, v in runs.items() if k in tabulated}
    draws = draw_runs(runs, spec.metrics, boot, logged_values(frame, spec), compared=metric) if runs else None
    intervals = pd.DataFrame(columns=INTERVAL_COLUMNS)
    paired: dict[str, Paired] = {}
    if draws is not None:
        groups = {g: m for g, m in spec.groups.items() if g in spec.columns()}
        intervals = cell_intervals(cells, draws, spec.metrics, groups)
        paired = {r: paired_bootstrap(draws, tabulated, r, spec.baseline_row, metric, spec.protocols, spec.seeds)
                  for r, _ in spec.rows if r != spec.baseline_row}
    any_interval = bool((intervals["basis"] == "ci").any())
    if interval == "ci" and not any_interval:
        why = "no tabulated run has a scores.csv artifact (runs of older code)" if not runs else \
            "no cell's runs give an interval (" + "; ".join(sorted(set(intervals["why"]))) + ")"
        raise PadError("--interval", "ci", f"{why}, so there is no interval to show",
                       "use --interval std, or re-run the cells with current code")
    shown = interval or ("ci" if any_interval else "std")
    if draws is None:
        note = (" No run has a scores.csv artifact (runs of older code): cells are mean±std over seeds, without "
                "bootstrap intervals or paired bootstrap.")
    else:
        note = method_note(draws, intervals, len(spec.seeds), shown) + comparison_note(boot, paired)
    res = resolution(long, metric, len(spec.protocols), len(spec.seeds), paired, draws, cells)
    return TableStats(shown, intervals, paired, res, note + res.note(), boot.level, runs)


def logged_values(frame: pd.DataFrame, spec: TableView) -> dict[Key, dict[str, float]]:
    """Each run's logged test metrics (fractions), which its re-scored test scores must reproduce."""
    return {(run["row"], run["protocol"], int(run["seed"])): {m: float(run.get(metric_key("test", run["protocol"], m),
                                                                              float("nan"))) for m in spec.metrics}
            for _, run in frame.iterrows()}


def comparison_note(boot: Bootstrap, paired: dict[str, Paired]) -> str:
    b = boot.compared_resamples
    text = (f" Δ: row − baseline of the first metric, mean over protocols × seeds; its {100 * boot.level:g}% CI and "
            f"p from a paired bootstrap (both rows' runs re-scored under the same {b} draws of the "
            f"shared test set; two-sided, resolution 1/B, smallest p 2/(B+1) = {2 / (b + 1):.4f}), "
            "Holm-corrected across rows; conditional on the trained seeds (their spread enters the resolvable "
            "difference below, not this p); Wilcoxon signed-rank over (protocol × seed) cells, Holm-corrected, only "
            "where its smallest adjusted p, rows·2/2^n, can be below 0.05 (≥ 6 cells for one row, 7 for 2-3, 8 for "
            "4-6 rows; 0.125 at 4 cells), else \"n too small\".")
    refused = {r: p.note for r, p in paired.items() if p.note}
    if refused:
        text += " " + "; ".join(f"{r}: {why}" for r, why in refused.items()) + "."
    return text
