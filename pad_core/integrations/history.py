"""A run's whole metric history: every key, every step, with its original timestamp and value.

A cell reused from another sweep is a new MLflow run; copying the history makes its charts the ones of the run
that trained it (not one point per metric). Copying again is harmless: MLflow ignores a metric identical in key,
step, timestamp and value.
"""

from __future__ import annotations

from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

MAX_BATCH = 1000  # metrics MLflow accepts in one log_batch


def metric_history(client: MlflowClient, run_id: str) -> list[Metric]:
    """Every logged value of every metric of the run, per key in step order."""
    keys = sorted(client.get_run(run_id).data.metrics)
    return [m for key in keys for m in client.get_metric_history(run_id, key)]


def trained_run(client: MlflowClient, run) -> str:
    """The run that trained: ``pad.reused_from`` of a reused run (its own history may be a single point, from
    before reused runs carried history), the run itself otherwise or when that one is gone."""
    origin = run.data.tags.get("pad.reused_from", run.info.run_id)
    try:
        client.get_run(origin)
    except MlflowException:
        return run.info.run_id
    return origin


def copy_history(client: MlflowClient, source_id: str, target_id: str) -> int:
    """Log ``source_id``'s whole history into ``target_id`` in batches; returns how many values were copied."""
    entries = metric_history(client, source_id)
    for start in range(0, len(entries), MAX_BATCH):
        client.log_batch(target_id, metrics=entries[start : start + MAX_BATCH])
    return len(entries)
