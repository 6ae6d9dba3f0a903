"""The tabulated runs' test scores, read from MLflow (each run's ``scores.csv`` artifact, its decision threshold
and threshold policy) for the table's bootstrap (:mod:`pad_core.ablation.uncertainty`). Reads only."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd

from pad_core.ablation.uncertainty import Key, RunScores, from_scores_csv
from pad_core.metrics.report import metric_key


def tabulated_scores(record, frame: pd.DataFrame) -> dict[Key, RunScores]:
    """(row, protocol, seed) -> the run's test scores, for every run of ``frame`` that has a ``scores.csv``
    (runs of older code have none: their cells fall back to ±std, and the footnote says so)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per file floods the log
    out: dict[Key, RunScores] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _, run in frame.iterrows():
            rows = _test_rows(record, run["source_run"], tmp)
            if rows is None:
                continue
            data = record.client.get_run(run["run_id"]).data
            out[(run["row"], run["protocol"], int(run["seed"]))] = from_scores_csv(
                rows, run_threshold(run, data.tags.get("pad.threshold_policy", "")),
                per_video=not np.isnan(_metric(run, "frames_per_video_min")),
                apcer_mode=data.params.get("eval.apcer_mode", "pooled"))
    return out


def _test_rows(record, run_id: str, folder: str) -> pd.DataFrame | None:
    try:
        path = record.client.download_artifacts(run_id, "scores.csv", folder)
    except Exception:  # noqa: BLE001 - a run without scores (older code): its cell shows ±std, said in the footnote
        return None
    rows = pd.read_csv(path, keep_default_na=False, na_values={"score": [""]})
    os.remove(path)
    return rows[rows["split"] == "test"] if "split" in rows else None


def _metric(run: pd.Series, name: str) -> float:
    value = run.get(metric_key("test", run["protocol"], name), np.nan)
    return float(value) if value is not None else float("nan")


def run_threshold(run: pd.Series, policy: str) -> float | None:
    """The run's decision threshold as logged; None under ``test_eer`` (re-found on each resample). NaN when not
    logged: its thresholded metrics then get no interval."""
    return None if policy == "test_eer" else _metric(run, "threshold")
