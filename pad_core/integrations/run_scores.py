"""The tabulated runs' test scores, read from MLflow (each run's ``scores.csv`` artifact, its decision threshold
and threshold policy) for the table's bootstrap (:mod:`pad_core.ablation.uncertainty`). Reads only."""

from __future__ import annotations

import io
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from pad_core.ablation.uncertainty import Key, RunScores, from_scores_csv
from pad_core.integrations import scores_cache
from pad_core.metrics.report import metric_key

SCORES = "scores.csv"
DOWNLOADS = 8  # concurrent artifact downloads: each is a round trip for a small file (HTTP or S3), not bandwidth


def tabulated_scores(record, frame: pd.DataFrame, locations: dict[str, str] | None = None) -> dict[Key, RunScores]:
    """(row, protocol, seed) -> the run's test scores, for every run of ``frame`` that has a ``scores.csv``
    (runs of older code have none: their cells fall back to ±std, and the footnote says so). ``frame`` is the
    sweep's run listing (:func:`pad_core.integrations.run_listing.ended_frame`: threshold policy and APCER mode
    come with it). ``locations``: run id -> its artifact URI, from the same listing: a run's file is then one
    request (without, MLflow's client asks for the run first); reused runs' files belong to their source run and
    are found through it. Files parsed before are taken from the content-addressed cache (:mod:`scores_cache`)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one bar per file floods the log
    runs = [run for _, run in frame.iterrows()]
    folder = scores_cache.cache_folder()
    out: dict[Key, RunScores] = {}
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(DOWNLOADS) as pool:
        read = pool.map(lambda run: _run_scores(record, run, locations or {}, folder, tmp), runs)
        for run, scores in zip(runs, read):
            if scores is not None:
                out[(run["row"], run["protocol"], int(run["seed"]))] = scores
    return out


def _run_scores(record, run: pd.Series, locations: dict[str, str], folder, tmp: str) -> RunScores | None:
    data = _download(record, run, locations, os.path.join(tmp, run["run_id"]))
    if data is None:
        return None
    per_video = not np.isnan(_metric(run, "frames_per_video_min"))
    options = dict(threshold=run_threshold(run, run.get("threshold_policy", "")),
                   apcer_mode=run.get("apcer_mode", "pooled"), tpr_positive=run.get("tpr_positive", "live"))
    name = scores_cache.entry_name(data, per_video)
    cached = scores_cache.load(folder, name, **options)
    if cached is not None:
        return cached
    rows = pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values={"score": [""]})
    if "split" not in rows:
        return None
    scores = from_scores_csv(rows[rows["split"] == "test"], per_video=per_video, **options)
    scores_cache.store(folder, name, scores)
    return scores


def _download(record, run: pd.Series, locations: dict[str, str], folder: str) -> bytes | None:
    """The bytes of the run's scores.csv; None when it has none (older code)."""
    source = run["source_run"]
    try:
        os.makedirs(folder, exist_ok=True)
        if source == run["run_id"] and locations.get(source):
            path = os.path.join(folder, SCORES)
            _repository(locations[source], record.tracking_uri)._download_file(SCORES, path)  # noqa: SLF001
        else:
            path = record.client.download_artifacts(source, SCORES, folder)
        with open(path, "rb") as fh:
            data = fh.read()
        os.remove(path)
        return data
    except Exception:  # noqa: BLE001 - a run without scores (older code): its cell shows ±std, said in the footnote
        return None


def _repository(artifact_uri: str, tracking_uri: str):
    """The run's artifact store, as MLflow's client opens it (with a Databricks profile where the URI has one).
    ``_download_file`` is every store's one-file download: no listing first, which would be a second request."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.tracking.artifact_utils import add_databricks_profile_info_to_artifact_uri

    return get_artifact_repository(add_databricks_profile_info_to_artifact_uri(artifact_uri, tracking_uri),
                                   tracking_uri=tracking_uri)


def _metric(run: pd.Series, name: str) -> float:
    value = run.get(metric_key("test", run["protocol"], name), np.nan)
    return float(value) if value is not None else float("nan")


def run_threshold(run: pd.Series, policy: str) -> float | None:
    """The run's decision threshold as logged; None under ``test_eer`` (re-found on each resample). NaN when not
    logged: its thresholded metrics then get no interval."""
    return None if policy == "test_eer" else _metric(run, "threshold")
