"""The tabulated runs' test scores, read from MLflow (each run's ``scores.csv`` artifact, its decision threshold
and threshold policy) for the table's bootstrap (:mod:`pad_core.ablation.uncertainty`). Reads only."""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from pad_core.ablation.uncertainty import Key, RunScores, from_scores_csv
from pad_core.metrics.report import metric_key

DOWNLOADS = 8  # concurrent artifact downloads: each is a round trip for a small file (HTTP or S3), not bandwidth


def tabulated_scores(record, frame: pd.DataFrame) -> dict[Key, RunScores]:
    """(row, protocol, seed) -> the run's test scores, for every run of ``frame`` that has a ``scores.csv``
    (runs of older code have none: their cells fall back to ±std, and the footnote says so). ``frame`` is the
    sweep's run listing (:func:`pad_core.integrations.mlflow_runs.sweep_frame`: threshold policy and APCER mode
    come with it, so the only request per run is its file, and those run concurrently)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per file floods the log
    runs = [run for _, run in frame.iterrows()]
    out: dict[Key, RunScores] = {}
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(DOWNLOADS) as pool:
        files = pool.map(lambda run: _test_rows(record, run["source_run"], os.path.join(tmp, run["run_id"])), runs)
        for run, rows in zip(runs, files):
            if rows is None:
                continue
            out[(run["row"], run["protocol"], int(run["seed"]))] = from_scores_csv(
                rows, run_threshold(run, run.get("threshold_policy", "")),
                per_video=not np.isnan(_metric(run, "frames_per_video_min")),
                apcer_mode=run.get("apcer_mode", "pooled"), tpr_positive=run.get("tpr_positive", "live"))
    return out


def _test_rows(record, run_id: str, folder: str) -> pd.DataFrame | None:
    try:
        os.makedirs(folder, exist_ok=True)
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
