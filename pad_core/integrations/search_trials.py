"""A search's trials as MLflow recorded them, in trial-start order, with the values its top-k ranking uses.

A trial's value (:func:`run_objectives`) is its final report, else (stopped early by the scheduler) the best value
its curve reached, at a smaller budget; ``counted_as`` says which. From them: the history (objective per trial
and best so far, step = trial index) and the Pareto front of a multi-objective search. The report that logs them
on the parent run is search_report.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities import Metric

from pad_core.integrations.mlflow_runs import SweepRecord, log_metrics
from pad_core.integrations.trial import DRAWS_TAG
from pad_core.metrics.pareto import pareto_fronts
from pad_core.metrics.report import final_key

FINAL = "final report"
CURVE_BEST = "best reported value (stopped early)"


@dataclass(frozen=True)
class SearchTrial:
    index: int  # position in trial-start order (the metrics' step)
    run_id: str
    name: str
    outcome: str  # pad.outcome: completed | early_stopped | failed | interrupted | ""
    values: tuple[float, ...] | None  # one per objective (None: it never reported the objectives)
    counted_as: str  # FINAL | CURVE_BEST | "" (no value)
    draws: dict[str, Any] | None  # the trial's Optuna draws (tag pad.draws); None where the run lacks the tag
    params: dict[str, str]  # the run's config as MLflow params


def run_objectives(record: SweepRecord, run, spec) -> tuple[float, ...] | None:
    """Each objective of a run: what its final report scored (the selected weights' dev score, the run's mean
    step time), else, for a run stopped early, the best value its curve reached (None if never reported)."""
    values = []
    for key, mode in spec.objectives:
        final = run.data.metrics.get(final_key(key))
        if final is not None:
            values.append(final)
            continue
        history = [m.value for m in record.client.get_metric_history(run.info.run_id, key)]
        if not history:
            return None
        values.append(min(history) if mode == "min" else max(history))
    return tuple(values)


def _draws(run) -> dict[str, Any] | None:
    text = run.data.tags.get(DRAWS_TAG)
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:  # clipped at MLflow's tag size: not replayable
        return None


def search_trials(record: SweepRecord, parent_id: str, spec) -> list[SearchTrial]:
    """The search's child runs in trial-start order, each with the values the ranking uses (one MLflow read)."""
    runs = sorted(record.children(parent_id), key=lambda r: (r.info.start_time, r.info.run_id))
    trials = []
    for i, run in enumerate(runs):
        values = run_objectives(record, run, spec)
        counted = "" if values is None else FINAL if final_key(spec.objective) in run.data.metrics else CURVE_BEST
        trials.append(SearchTrial(i, run.info.run_id, run.info.run_name or run.info.run_id,
                                  run.data.tags.get("pad.outcome", ""), values, counted, _draws(run),
                                  dict(run.data.params)))
    return trials


def metric_name(key: str) -> str:
    """``dev/p1/eer`` -> ``eer``."""
    return key.split("/")[2]


def report_key(spec, name: str) -> str:
    """A parent-run metric key of the report, ``search/<protocol>/<name>`` (the split/protocol/metric rule)."""
    return f"search/{spec.protocol.lower()}/{name}"


def _draw_columns(trials: list[SearchTrial]) -> list[str]:
    return sorted({k for t in trials if t.draws for k in t.draws})


def history_frame(trials: list[SearchTrial], spec) -> pd.DataFrame:
    """One row per trial in start order: its objectives, the best of each so far (over the trials with a value),
    how the value was counted, and its draws."""
    rows = []
    best: dict[str, float] = {}
    for t in trials:
        row: dict[str, Any] = {"trial": t.index, "run": t.name, "run_id": t.run_id, "outcome": t.outcome,
                               "counted_as": t.counted_as}
        for j, (key, mode) in enumerate(spec.objectives):
            name = metric_name(key)
            value = t.values[j] if t.values is not None else np.nan
            if np.isfinite(value):
                pick = min if mode == "min" else max
                best[name] = pick(best.get(name, value), value)
            row[name], row[f"best_{name}"] = value, best.get(name, np.nan)
        row.update({f"draw:{k}": _cell(t.draws.get(k)) if t.draws else None for k in _draw_columns(trials)})
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def history_metrics(history: pd.DataFrame, spec) -> list[Metric]:
    """``search/<p>/<m>`` per trial with a value and ``search/<p>/best_<m>`` from the first such trial on."""
    now, metrics = int(time.time() * 1000), []
    for key, _ in spec.objectives:
        name = metric_name(key)
        for column in (name, f"best_{name}"):
            for step, value in zip(history["trial"], history[column]):
                if np.isfinite(value):
                    metrics.append(Metric(report_key(spec, column), float(value), now, int(step)))
    return metrics


def pareto_frame(trials: list[SearchTrial], spec) -> pd.DataFrame:
    """The trials on front 0 (no other trial at least as good in every objective and better in one), best first
    by the first objective."""
    valued = [t for t in trials if t.values is not None and all(np.isfinite(t.values))]
    modes = [mode for _, mode in spec.objectives]
    fronts = pareto_fronts([t.values for t in valued], modes)
    names = [metric_name(k) for k, _ in spec.objectives]
    rows = [{"trial": t.index, "run": t.name, "run_id": t.run_id, "outcome": t.outcome,
             **dict(zip(names, t.values)), **{f"draw:{k}": _cell(v) for k, v in sorted((t.draws or {}).items())}}
            for t, front in zip(valued, fronts) if front == 0]
    frame = pd.DataFrame(rows, columns=None if rows else ["trial", "run", "run_id", "outcome", *names])
    return frame.sort_values(names[0], ascending=modes[0] == "min", kind="stable").reset_index(drop=True)


def log_missing(record: SweepRecord, run_id: str, metrics: list[Metric]) -> int:
    """Log the metrics whose (key, step) the run does not hold yet (a resumed search reports again: one value per
    key and step); return how many were logged."""
    held = {(m.key, m.step) for key in {m.key for m in metrics}
            for m in record.client.get_metric_history(run_id, key)}
    missing = [m for m in metrics if (m.key, m.step) not in held]
    log_metrics(record.client, run_id, missing)
    return len(missing)
