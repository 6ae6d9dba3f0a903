"""What a search learned, logged on its parent run when the search stage ends (before the confirmation grid).

- History: each trial's objective in trial-start order and the best so far, as metrics with step = trial index
  (``search/<p>/<metric>``, ``search/<p>/best_<metric>``) and ``search_report/history.csv`` + ``history.png``.
- Importance (search_importance.py): fANOVA on the trials rebuilt from MLflow, mean and std over evaluator seeds:
  ``search/<p>/importance_<metric>.<param>`` and ``search/<p>/importance_std_<metric>.<param>`` (step = trials
  in the study), ``search_report/importance.csv`` + ``importance.png``.
- Several objectives: the Pareto front (front 0 of ``pareto_fronts``): ``search_report/pareto.csv`` + ``.png``.
- ``search_report/summary.md``: the best trial, the importance table, which trials counted and how, and why
  anything could not be rated (too few trials is a note, never an error).

A resumed search reports again: artifacts are replaced, metrics already held at a (key, step) are not logged twice.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow.entities import Metric

from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.search_importance import Importance, importance
from pad_core.integrations.search_plots import history_plot, importance_plot, pareto_plot
from pad_core.integrations.search_trials import (
    SearchTrial,
    history_frame,
    history_metrics,
    log_missing,
    metric_name,
    pareto_frame,
    report_key,
)

REPORT_DIR = "search_report"  # artifact folder on the search's parent run


@dataclass(frozen=True)
class SearchReport:
    history: pd.DataFrame  # one row per trial (search_trials.history_frame)
    importance: Importance
    pareto: pd.DataFrame | None  # front 0; None for a single objective


def build_report(trials: list[SearchTrial], spec) -> SearchReport:
    multi = len(spec.objectives) > 1
    return SearchReport(history_frame(trials, spec), importance(trials, spec),
                        pareto_frame(trials, spec) if multi else None)


def importance_metrics(imp: Importance, spec) -> list[Metric]:
    """Mean and std per (objective, parameter), at step = the number of trials in the study (a later report over
    more trials is a new step, not a second value at the same one)."""
    now, metrics = int(time.time() * 1000), []
    for row in imp.frame.itertuples():
        for name, value in ((f"importance_{row.objective}.{row.param}", row.mean),
                            (f"importance_std_{row.objective}.{row.param}", row.std)):
            metrics.append(Metric(report_key(spec, name), float(value), now, int(row.trials)))
    return metrics


def _best_line(history: pd.DataFrame, spec) -> str:
    key, mode = spec.objectives[0]
    name = metric_name(key)
    values = history[name].astype(float)
    if not np.isfinite(values).any():
        return f"No trial reported {key}."
    best = values.idxmin() if mode == "min" else values.idxmax()
    row = history.loc[best]
    return (f"Best {key} ({mode}): {row[name]:.6g} by trial {int(row['trial'])} ({row['run']}, {row['outcome']}, "
            f"{row['counted_as']}).")


def summary_markdown(report: SearchReport, spec) -> str:
    history, imp = report.history, report.importance
    counts = history["outcome"].replace("", "not ended").value_counts()
    lines = [f"# {spec.title}: what the search learned", "",
             f"{len(history)} trials ({', '.join(f'{n} {o}' for o, n in counts.items())}), objectives "
             f"{', '.join(f'{k} ({m})' for k, m in spec.objectives)}.", _best_line(history, spec), "",
             "## Parameter importance (fANOVA, normalised per seed; mean ± std over evaluator seeds)", ""]
    if len(imp.frame):
        lines += ["| objective | parameter | importance | rank |", "|---|---|---|---|"]
        lines += [f"| {r.objective} | {r.param} | {r.mean:.3f} ± {r.std:.3f} | {r.rank} |"
                  for r in imp.frame.itertuples()]
        lines.append("")
    lines += [f"- {note}" for note in imp.notes]
    if report.pareto is not None:
        names = [metric_name(k) for k, _ in spec.objectives]
        lines += ["", f"## Pareto front ({len(report.pareto)} trials no other trial beats in every objective)", ""]
        lines += [f"- trial {int(r['trial'])} ({r['run']}): " + ", ".join(f"{n} {r[n]:.6g}" for n in names)
                  for _, r in report.pareto.iterrows()]
    return "\n".join(lines) + "\n"


def write_report(report: SearchReport, spec, folder: str) -> None:
    names = [metric_name(k) for k, _ in spec.objectives]
    title = f"{spec.title}: {spec.name}"
    report.history.to_csv(os.path.join(folder, "history.csv"), index=False)
    history_plot(report.history, names, f"{title}: objective per trial", os.path.join(folder, "history.png"))
    report.importance.frame.to_csv(os.path.join(folder, "importance.csv"), index=False)
    importance_plot(report.importance.frame, report.importance.notes, f"{title}: parameter importance",
                    os.path.join(folder, "importance.png"))
    if report.pareto is not None:
        report.pareto.to_csv(os.path.join(folder, "pareto.csv"), index=False)
        pareto_plot(report.history, report.pareto, names, f"{title}: Pareto front", os.path.join(folder, "pareto.png"))
    with open(os.path.join(folder, "summary.md"), "w") as fh:
        fh.write(summary_markdown(report, spec))


def report_search(record: SweepRecord, parent_id: str, spec, trials: list[SearchTrial]) -> SearchReport:
    """Build the report of ``trials`` (search_trials.search_trials) and log it on the search's parent run."""
    started = time.monotonic()
    report = build_report(trials, spec)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(report, spec, tmp)
        for name in sorted(os.listdir(tmp)):
            record.log_artifact(parent_id, os.path.join(tmp, name), REPORT_DIR)
    log_missing(record, parent_id, history_metrics(report.history, spec) + importance_metrics(report.importance, spec))
    top = report.importance.frame.drop_duplicates("objective")
    rated = "; ".join(f"{r.objective}: {r.param} {r.mean:.2f}±{r.std:.2f}" for r in top.itertuples())
    print(f"[padsweep] search report ({time.monotonic() - started:.1f} s): {_best_line(report.history, spec)} "
          f"Most important: {rated or 'none rated (see ' + REPORT_DIR + '/summary.md)'}. Artifacts: {REPORT_DIR}/ "
          f"on run {parent_id}", flush=True)
    return report
