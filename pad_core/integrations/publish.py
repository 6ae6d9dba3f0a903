"""The sweep's table and figures, rebuilt from MLflow alone and logged on the sweep's parent run.

Only runs of the declared rows, protocols and seeds with the declared config hash and the sweep's code
and data versions enter a table. Runs of another config (a row changed under ``--allow-spec-change``) are
left out and counted in the footnote; runs of other code or data are refused unless ``allow_mixed_code`` /
``allow_mixed_data``. A table with declared cells that have no finished run (failed, deleted, not run) says so
in its caption and footnote, and each mean over fewer seeds than declared is marked (n=k/N).
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pandas as pd
from mlflow.entities import ViewType

from pad_core.ablation.grid import axis_names, grid_stats
from pad_core.ablation.plots import grid_heatmap, metric_bars, metric_trend, roc_det
from pad_core.ablation.render import Rendered, best_row, render
from pad_core.ablation.table import (
    cell_counts,
    completeness_note,
    incomplete_mark,
    long_form,
    score_level_note,
    summarize,
)
from pad_core.ablation.table_stats import BOOTSTRAP, table_stats
from pad_core.ablation.uncertainty import Bootstrap, Key, RunScores
from pad_core.ablation.view import TableView
from pad_core.errors import SweepError
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.run_listing import ListedRun, child_runs, ended_frame
from pad_core.integrations.run_scores import tabulated_scores

UNRECORDED = "unrecorded"  # data version of runs that predate pad.data_version

MAX_CURVES = 12  # ROC/DET lines (protocol x seed) before the plot becomes unreadable


def rebuild_table(record: SweepRecord, parent_id: str, stage: str | None = None, allow_mixed_code: bool = False,
                  allow_mixed_data: bool = False, interval: str | None = None,
                  boot: Bootstrap = BOOTSTRAP) -> tuple[Rendered, pd.DataFrame, TableView, pd.DataFrame]:
    """(Rendered table, long summary, spec, runs used) from the parent's declaration and its finished runs.

    The runs' test scores (``scores.csv``) give each cell its bootstrap interval and each row its paired
    comparison (``interval``: "ci" or "std" display; None = intervals when any cell has one)."""
    tags = record.client.get_run(parent_id).data.tags
    spec = declared_spec(tags, parent_id)
    children = child_runs(record, parent_id)  # one listing of the children for both outcomes and the stage check
    ended = ended_frame(children, stage)
    finished = ended[ended["outcome"] == "completed"] if not ended.empty else ended
    declared_data = declared_data_versions(tags)
    usable = finished if allow_mixed_data else of_declared_data(finished, declared_data)
    frame, superseded = latest_per_cell(spec.declared(usable)) if not usable.empty else (usable, 0)
    failed = ended[ended["outcome"] == "failed"] if not ended.empty else ended
    counts = cell_counts(spec, frame, failed_set(failed, spec), deleted_children(record, parent_id, stage))
    if frame.empty:
        check_stage(children, stage)
        cells = f"{counts.declared} declared cell{'s' * (counts.declared != 1)}"
        raise SweepError("sweep", spec.title, f"no finished runs of the declared rows to tabulate ({cells}: "
                         f"{counts.failed} failed, {counts.deleted} deleted, {counts.not_run} not run or not "
                         "finished)", "run the sweep first")
    check_code_versions(frame, tags.get("pad.code_version", ""), allow_mixed_code)
    check_data_versions(frame, declared_data, allow_mixed_data)
    stale = len(finished) - len(frame)
    print(f"[padsweep] building the table from {len(frame)} finished runs"
          + (f" ({stale} runs of other configs, protocols, seeds or data, or superseded, left out)" if stale else ""),
          flush=True)
    summary = summarize(frame, spec)
    failures = failed_cells(failed, spec, frame)
    footnote = (provenance(frame, spec, parent_id, stale - superseded, superseded) + score_level_note(frame, spec)
                + failure_note(failures) + completeness_note(counts))
    locations = {run.run_id: run.artifact_uri for run in children}
    stats = table_stats(frame, spec, tabulated_scores(record, frame, locations), boot, interval)
    rendered = render(summary, long_form(frame, spec), spec, footnote, failures, incomplete_mark(counts), stats)
    return rendered, summary, spec, frame


def check_stage(children: list[ListedRun], stage: str | None) -> None:
    """A ``--stage`` none of the sweep's runs (``children``: its listing) has is a mistyped name, not an empty
    table."""
    if not stage:
        return
    stages = sorted({r.tags.get("pad.stage", "") for r in children} - {""})
    if stage not in stages:
        raise SweepError("--stage", stage, f"no run of the sweep has this stage (its runs' stages: {stages})",
                         "give one of those, or leave --stage out")


def declared_spec(tags: dict[str, str], parent_id: str) -> TableView:
    """The table the sweep declared (``pad.spec`` on its parent run); a search has none (its confirmation does)."""
    if "pad.spec" not in tags:
        sweep = tags.get("pad.sweep", parent_id)
        raise SweepError("--sweep", sweep, f"its parent run {parent_id} declares no table (a search's trials are "
                         "ranked, not tabulated, or the sweep stopped before declaring its cells)",
                         f"tabulate the search's confirmation stage (--sweep {sweep}-confirm), or run the sweep")
    return TableView.from_json(tags["pad.spec"])


def deleted_children(record: SweepRecord, parent_id: str, stage: str | None) -> pd.DataFrame:
    """Child runs deleted in MLflow (lifecycle 'deleted'): row, protocol, seed and config hash of each."""
    lines = [{"row": r.tags.get("pad.row"), "protocol": r.tags.get("pad.protocol"),
              "seed": int(r.tags.get("pad.seed", -1)), "config_hash": r.tags.get("pad.config_hash")}
             for r in child_runs(record, parent_id, ViewType.DELETED_ONLY)
             if not stage or r.tags.get("pad.stage") == stage]
    return pd.DataFrame(lines, columns=["row", "protocol", "seed", "config_hash"])


def failed_set(failed: pd.DataFrame, spec: TableView) -> set[tuple[str, str, int]]:
    if failed.empty:
        return set()
    runs = spec.declared(failed)
    return set(zip(runs["row"], runs["protocol"], runs["seed"].astype(int)))


def latest_per_cell(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(the newest finished run of each row x protocol x seed, how many older ones it superseded).

    A cell has several finished runs when it was re-run with other code or data (another identity); the sweep
    always runs the current identity last, so the newest run is the one of the current code and data."""
    newest = frame.sort_values("ended", kind="stable").drop_duplicates(["row", "protocol", "seed"], keep="last")
    return newest.sort_index(), len(frame) - len(newest)


def failed_cells(failed: pd.DataFrame, spec: TableView, done: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(row, protocol) -> "s<seed>: <reason>" of declared cells whose run failed and has no completed rerun."""
    if failed.empty:
        return {}
    finished = set(zip(done["row"], done["protocol"], done["seed"]))
    out: dict[tuple[str, str], list[str]] = {}
    for _, run in spec.declared(failed).iterrows():
        if (run["row"], run["protocol"], run["seed"]) not in finished:
            out.setdefault((run["row"], run["protocol"]), []).append(f"s{run['seed']}: {run['reason']}")
    return out


def failure_note(failures: dict[tuple[str, str], list[str]]) -> str:
    if not failures:
        return ""
    cells = "; ".join(f"{row}·{protocol} {', '.join(items)}" for (row, protocol), items in sorted(failures.items()))
    return f" Failed cells (marked ✗): {cells}."


def check_code_versions(frame: pd.DataFrame, declared: str, allow: bool) -> None:
    """Refuse a table mixing runs of other code than the sweep declares (their numbers may not be comparable)."""
    other = sorted(set(frame["code_version"]) - {declared}) if declared else []
    if other and not allow:
        raise SweepError("pad.code_version", other, f"runs of code other than the sweep's {declared}",
                         "re-run those cells with the current code (new --sweep-name), or pass --allow-mixed-code")


def declared_data_versions(tags: dict[str, str]) -> set[str] | None:
    """The data versions the sweep declares (``pad.data_versions``: manifest URI -> sha256); None when it
    predates them."""
    try:
        return set(json.loads(tags["pad.data_versions"]).values())
    except (KeyError, ValueError, AttributeError, TypeError):
        return None


def of_declared_data(finished: pd.DataFrame, declared: set[str] | None) -> pd.DataFrame:
    """The runs trained on data the sweep declares now: after ``--allow-data-change`` the old data's runs are left
    out (their cells count as missing until trained again), never picked as a cell's newest finished run."""
    if declared is None or finished.empty or "data_version" not in finished:
        return finished
    return finished[finished["data_version"].isin(declared)]


def check_data_versions(frame: pd.DataFrame, declared: set[str] | None, allow: bool) -> None:
    """Refuse a table mixing runs trained on other data than the sweep declares, or, where the sweep declares
    none, on different data (a run without ``pad.data_version`` counts as its own, unrecorded, version)."""
    versions = frame["data_version"].replace("", UNRECORDED) if "data_version" in frame else \
        pd.Series(UNRECORDED, index=frame.index)
    found = versions.value_counts().to_dict()
    if declared is not None:
        other = {v: n for v, n in found.items() if v not in declared}
        problem = f"runs trained on data other than the sweep's ({', '.join(sorted(v[:12] for v in declared))})"
    else:
        other = found if len(found) > 1 else {}
        problem = "runs trained on different data (the sweep records no data version to choose by)"
    if other and not allow:
        counts = ", ".join(f"{v[:12]}: {n} run{'s' * (n != 1)}" for v, n in sorted(found.items()))
        raise SweepError("pad.data_version", sorted(v[:12] for v in other), f"{problem}; runs by version: {counts}",
                         "re-run those cells on one data version (a new --sweep-name), or pass --allow-mixed-data")


def data_note(frame: pd.DataFrame) -> str:
    versions = sorted(set(frame["data_version"]) - {""}) if "data_version" in frame else []
    unrecorded = int((frame["data_version"] == "").sum()) if "data_version" in frame else len(frame)
    shown = [v[:12] for v in versions] + ([f"{UNRECORDED} ({unrecorded} runs)"] if unrecorded and versions else [])
    return ", ".join(shown) or UNRECORDED


def provenance(frame: pd.DataFrame, spec: TableView, parent_id: str, left_out: int = 0, superseded: int = 0) -> str:
    versions = ", ".join(sorted(set(frame["code_version"]) - {""})) or "unrecorded"
    hashes = ", ".join(f"{row}={h[:10]}" for row, h in spec.hashes.items())
    note = f" {left_out} finished run{'s' * (left_out != 1)} of undeclared configs left out." if left_out else ""
    if superseded:
        note += f" {superseded} older run{'s' * (superseded != 1)} of re-run cells superseded."
    reused = int((frame["source_run"] != frame["run_id"]).sum()) if "source_run" in frame else 0
    if reused:
        note += f" {reused} run{'s' * (reused != 1)} reused from other sweeps (same cell identity; pad.reused_from)."
    return (f"Provenance: MLflow parent run {parent_id}; code {versions}; data {data_note(frame)}; "
            f"config hashes {hashes}; "
            f"{len(frame)} runs, {frame['hours'].sum():.2f} compute hours.{note}")


def publish_table(record: SweepRecord, parent_id: str, stage: str | None) -> str:
    """Log the table (Markdown, LaTeX, CSV) and its figures as artifacts of the parent run; return Markdown."""
    rendered, summary, spec, frame = rebuild_table(record, parent_id, stage)
    with tempfile.TemporaryDirectory() as tmp:
        write_tables(rendered, tmp)
        write_figures(summary, spec, rendered.stats.runs if rendered.stats else {}, tmp)
        for name in sorted(os.listdir(tmp)):
            record.log_artifact(parent_id, os.path.join(tmp, name))
    return rendered.markdown


def write_tables(rendered: Rendered, folder: str) -> None:
    files = {"table.md": rendered.markdown + "\n", "table.tex": rendered.latex + "\n",
             "table.csv": rendered.frame.to_csv()}
    files.update({f"grid_{col}.csv": grid.to_csv() for col, grid in rendered.grids.items()})
    for name, text in files.items():
        with open(os.path.join(folder, name), "w") as fh:
            fh.write(text)


def write_figures(summary: pd.DataFrame, spec: TableView, scores: dict[Key, RunScores], folder: str) -> None:
    """Per-row bars and the ablation trend of ACER and EER, the grid heatmap, ROC/DET of the best row (from the
    test scores the table already read: ``scores``)."""
    for metric in ("acer", "eer"):
        metric_bars(summary, spec, metric, os.path.join(folder, f"{metric}_by_row.png"))
        metric_trend(summary, spec, metric, os.path.join(folder, f"{metric}_trend.png"))
    if spec.layout:
        metric = spec.metrics[0]
        for col in spec.columns():
            title = f"{spec.title}: {metric.upper()} on {col} (%)"
            grid_heatmap(grid_stats(summary, spec, metric, col), axis_names(spec), title,
                         os.path.join(folder, f"grid_{metric}_{col}.png"))
    best = best_row(summary, spec)
    curves = best_row_scores(scores, best)
    if curves:
        title = f"{spec.title}: ROC and DET of the best row, {dict(spec.rows)[best]} (test sets)"
        roc_det(curves, title, os.path.join(folder, "roc_det_best_row.png"))


def best_row_scores(scores: dict[Key, RunScores], row: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``"<protocol> s<seed>"`` -> (test scores, labels) of the row's runs (at most MAX_CURVES), in the units
    their metrics counted (rows, or videos for a run scored per video)."""
    shown = sorted(key for key in scores if key[0] == row)[:MAX_CURVES]
    return {f"{protocol} s{seed}": (scores[(r, protocol, seed)].scores, scores[(r, protocol, seed)].labels)
            for r, protocol, seed in shown}
