"""Ablation tables from a tidy frame of finished runs: rows x protocols x metrics, mean±std over seeds.

The frame has one line per run with columns ``row``, ``protocol``, ``seed`` and ``test/<protocol>/<metric>``
values; it comes from MLflow (see ``pad_core.integrations.run_listing.ended_frame``) or from tests.
Rates are stored as fractions and printed as percentages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pad_core.ablation.view import TableView
from pad_core.metrics.report import metric_key


def long_form(frame: pd.DataFrame, spec: TableView) -> pd.DataFrame:
    """One line per (row, protocol, seed, metric) with the value in percent."""
    records = []
    for _, run in frame.iterrows():
        for m in spec.metrics:
            value = run.get(metric_key("test", run["protocol"], m), np.nan)
            records.append({"row": run["row"], "protocol": run["protocol"], "seed": int(run["seed"]), "metric": m,
                            "value": 100.0 * float(value)})
    return pd.DataFrame.from_records(records, columns=["row", "protocol", "seed", "metric", "value"])


def _std(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize(frame: pd.DataFrame, spec: TableView) -> pd.DataFrame:
    """Mean, std (ddof=1; 0 for one seed) and seed count per (row, protocol, metric), in declared order.

    A group column (P2 = P2.1/P2.2, P3 = P3.1..P3.6) is the mean and std over its members' seed means (the
    papers' "mean±std over sub-protocols"); its count is the smallest member count.
    """
    tidy = long_form(spec.declared(frame), spec)
    stats = tidy.groupby(["row", "protocol", "metric"])["value"].agg(mean="mean", std=_std, n="count")
    index = pd.MultiIndex.from_product([[r for r, _ in spec.rows], spec.protocols, spec.metrics],
                                      names=["row", "protocol", "metric"])
    out = stats.reindex(index).reset_index()
    out["n"] = out["n"].fillna(0).astype(int)
    groups = [_group_lines(out, g, spec.groups[g]) for g in spec.columns() if g in spec.groups]
    return pd.concat([out, *groups], ignore_index=True) if groups else out


def _group_lines(members: pd.DataFrame, group: str, names: list[str]) -> pd.DataFrame:
    part = members[members["protocol"].isin(names)].groupby(["row", "metric"], sort=False)
    agg = part.agg(mean=("mean", lambda v: float(v.mean()) if v.notna().all() else np.nan),
                   std=("mean", lambda v: _std(v.dropna())), n=("n", "min")).reset_index()
    return agg.assign(protocol=group)[["row", "protocol", "metric", "mean", "std", "n"]]


Cell = tuple[str, str, int]  # (row, protocol, seed)


@dataclass(frozen=True)
class CellCounts:
    """How the declared cells (row x protocol x seed) stand: finished, failed, deleted, never finished."""

    declared: int
    finished: int
    failed: int  # its run failed (NaN loss, time budget, ...) and no rerun finished
    deleted: int  # its only runs are deleted in MLflow (lifecycle 'deleted')
    deleted_runs: int  # deleted child runs of declared cells, whatever their cell's state

    @property
    def missing(self) -> int:
        return self.declared - self.finished

    @property
    def not_run(self) -> int:
        """Not finished, not failed, not deleted: never trained, still training, or stopped early."""
        return self.missing - self.failed - self.deleted


def declared_cells(spec: TableView) -> set[Cell]:
    return {(row, protocol, seed) for row, _ in spec.rows for protocol in spec.protocols for seed in spec.seeds}


def cell_counts(spec: TableView, finished: pd.DataFrame, failed: set[Cell], deleted: pd.DataFrame) -> CellCounts:
    """``finished``: the runs tabulated; ``failed``: cells whose run failed; ``deleted``: deleted child runs."""
    declared = declared_cells(spec)
    done = _cells(finished) & declared
    gone = spec.declared(deleted) if not deleted.empty else deleted
    gone_cells = _cells(gone)
    failed = (failed & declared) - done
    return CellCounts(len(declared), len(done), len(failed), len((gone_cells & declared) - done - failed),
                      len(gone))


def _cells(frame: pd.DataFrame) -> set[Cell]:
    return set(zip(frame["row"], frame["protocol"], frame["seed"].astype(int))) if not frame.empty else set()


def completeness_note(counts: CellCounts) -> str:
    """The footnote's account of missing cells ("" when every declared cell has a finished run and none of the
    sweep's runs were deleted)."""
    parts = []
    if counts.missing:
        why = [f"{n} {what}" for n, what in ((counts.failed, "failed"), (counts.deleted, "deleted"),
                                             (counts.not_run, "not run or not finished")) if n]
        parts.append(f" INCOMPLETE: {counts.missing} of {counts.declared} declared cells (row × protocol × seed) "
                     f"have no finished run: {', '.join(why)}. Means over fewer seeds than declared are marked "
                     "(n=k/N); a cell with no run is —.")
    if counts.deleted_runs:
        parts.append(f" {counts.deleted_runs} deleted run{'s' * (counts.deleted_runs != 1)} of declared cells "
                     "(MLflow lifecycle 'deleted') not used.")
    return "".join(parts)


def incomplete_mark(counts: CellCounts) -> str:
    """Added to the captions when cells are missing: a partial table never reads as the finished one."""
    return f" [INCOMPLETE: {counts.missing}/{counts.declared} cells missing]" if counts.missing else ""


def score_level_note(frame: pd.DataFrame, spec: TableView) -> str:
    """The footnote's scoring unit, per protocol column: runs scored per video log ``frames_per_video_min/max``
    with their test metrics; runs without them (every run before video scoring) scored per frame."""
    said: dict[str, list[str]] = {}
    for protocol in spec.protocols:
        runs = frame[frame["protocol"] == protocol] if "protocol" in frame else frame.iloc[:0]
        low = runs.get(metric_key("test", protocol, "frames_per_video_min"), pd.Series(dtype=float)).dropna()
        high = runs.get(metric_key("test", protocol, "frames_per_video_max"), pd.Series(dtype=float)).dropna()
        if runs.empty:
            continue
        if low.empty:
            unit = "per frame"
        else:
            k = f"{low.min():g}" if low.min() == high.max() else f"{low.min():g}–{high.max():g}"
            unit = f"per video (mean of {k} frames)" + ("" if len(low) == len(runs) else
                                                        f" in {len(low)} of {len(runs)} runs, per frame in the rest")
        said.setdefault(unit, []).append(protocol)
    if not said:
        return ""
    if len(said) == 1:
        return f" Scores: {next(iter(said))}."
    return " Scores: " + "; ".join(f"{unit} on {', '.join(names)}" for unit, names in said.items()) + "."
