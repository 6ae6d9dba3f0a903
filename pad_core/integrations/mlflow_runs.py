"""MLflow as the record of every sweep: one parent run per sweep, one child run per cell or trial.

Runs are found again by tags, never created twice: the parent by ``pad.sweep``, a child by
``pad.cell`` under its parent. Params are logged once, when a child is created. Metrics go in
batches (one HTTP call per report). The table is rebuilt from ``search_runs`` alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from pad_core.integrations.history import copy_history, trained_run

PARENT_KIND = "sweep-parent"
METRIC_BATCH = 900  # MLflow caps a batch at 1000 metrics
MAX_TAG = 7500  # MLflow keeps tag values up to 8000 characters


@dataclass(frozen=True)
class ChildRun:
    run_id: str
    status: str
    outcome: str  # pad.outcome: completed | early_stopped | failed | interrupted | "" (not ended)
    created: bool = False  # made just now: any checkpoint of its cell belongs to another (deleted) run


def check_tracking_uri(uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds, naming the URI, unless an MLflow tracking server that every Ray node can reach answers
    there: a local store (file, folder, SQLite) is refused, an address without http:// too, and so is a server
    that is not MLflow (the Ray dashboard); see pad_core/integrations/endpoints.py."""
    from pad_core.integrations.endpoints import HOSTED, check_tracking_form, probe_mlflow

    check_tracking_form(uri)
    if not uri.startswith(HOSTED):
        probe_mlflow(uri, timeout)


class SweepRecord:
    """Driver-side access to one sweep's runs."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        from pad_core.integrations.mlflow_ui import training_experiment

        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri)
        self.experiment_id = training_experiment(self.client, experiment)  # opens in MLflow's training view

    @classmethod
    def read_only(cls, tracking_uri: str | None, experiment: str) -> SweepRecord:
        """An existing experiment opened to read it (tables, links): nothing is created; no URI, a store that is
        not there or not MLflow, and a missing experiment are errors naming what exists."""
        from pad_core.integrations.mlflow_read import read_client, read_experiment

        record = cls.__new__(cls)  # __init__ creates a missing experiment
        record.tracking_uri, record.client = tracking_uri, read_client(tracking_uri)
        record.experiment_id = read_experiment(record.client, tracking_uri, experiment).experiment_id
        return record

    def search(self, filter_string: str) -> list:
        from pad_core.integrations.mlflow_read import every_run  # mlflow_read imports this module's neighbours

        return every_run(self.client, [self.experiment_id], filter_string)

    def find_parent(self, sweep: str):
        found = self.search(f"tags.`pad.sweep` = '{sweep}' and tags.`pad.kind` = '{PARENT_KIND}'")
        return found[0] if found else None

    def find_child(self, parent_id: str, key: str):
        found = self.search(f"tags.`mlflow.parentRunId` = '{parent_id}' and tags.`pad.cell` = '{key}'")
        return found[0] if found else None

    def parent(self, sweep: str, tags: dict[str, str]) -> str:
        """The sweep's parent run id, created on first use."""
        found = self.find_parent(sweep)
        if found:
            return found.info.run_id
        run = self.client.create_run(self.experiment_id, run_name=sweep,
                                     tags={"pad.sweep": sweep, "pad.kind": PARENT_KIND, **_clip(tags)})
        return run.info.run_id

    def children(self, parent_id: str) -> list:
        return self.search(f"tags.`mlflow.parentRunId` = '{parent_id}'")

    def child(self, parent_id: str, key: str, name: str, tags: dict[str, str], params: dict[str, str]) -> ChildRun:
        """Get or create the child run of ``key``; params and tags are written only at creation. Two callers must
        not race for one key: trials call it holding the cell's claim (``lease.claim_cell``), the driver its lease."""
        found = self.find_child(parent_id, key)
        if found:
            return ChildRun(found.info.run_id, found.info.status, found.data.tags.get("pad.outcome", ""))
        run = self.client.create_run(self.experiment_id, run_name=name,
                                     tags={"mlflow.parentRunId": parent_id, "pad.cell": key, **_clip(tags)})
        self.client.log_batch(run.info.run_id, params=[Param(k, v[:6000]) for k, v in params.items()])
        return ChildRun(run.info.run_id, "RUNNING", "", created=True)

    def completed_elsewhere(self, identities: set[str], code: str, parent_id: str) -> dict[str, object]:
        """identity -> a completed run of it in another sweep (runs of this code version only: one query)."""
        found: dict[str, object] = {}
        for run in self.search(f"tags.`pad.code_version` = '{code}' and tags.`pad.outcome` = 'completed'"):
            tags = run.data.tags
            ident = tags.get("pad.identity", "")
            if (ident in identities and run.info.status == "FINISHED" and tags.get("mlflow.parentRunId") != parent_id
                    and (ident not in found or "pad.reused_from" not in tags)):  # prefer the run that trained
                found[ident] = run
        return found

    def reuse(self, parent_id: str, key: str, name: str, tags: dict[str, str], source) -> str:
        """A finished child of ``parent_id`` for ``key`` that carries ``source``'s params and whole metric history
        (every key and step, original timestamps) and points at it (``pad.reused_from``): the cell's numbers and
        charts without training it again."""
        origin = source.data.tags.get("pad.reused_from", source.info.run_id)
        results = {k: v for k, v in source.data.tags.items()  # what the run recorded (threshold policy, data...)
                   if not k.startswith(("mlflow.", "axis.")) and k not in tags and k != "pad.cell"}
        run_id = self.child(parent_id, key, name, {**results, **tags, "pad.reused_from": origin},
                            dict(source.data.params)).run_id
        copy_history(self.client, trained_run(self.client, source), run_id)  # its curves, not one point each
        self.finalize(run_id, "FINISHED", "completed")
        return run_id

    def finished_keys(self, parent_id: str) -> set[str]:
        return {r.data.tags["pad.cell"] for r in self.children(parent_id)
                if r.info.status == "FINISHED" and r.data.tags.get("pad.outcome") == "completed"}

    def set_status(self, run_id: str, status: str) -> None:
        self.client.update_run(run_id, status=status)

    def finalize(self, run_id: str, status: str, outcome: str, reason: str = "") -> None:
        tags = {"pad.outcome": outcome}
        if reason:
            tags["pad.reason"] = reason[:MAX_TAG]
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        end_run(self.client, run_id, status)

    def reopen(self, run_id: str) -> None:
        """A retried cell (or a resumed sweep's parent) continues its own run (its metric history stays one
        series): RUNNING again, without the outcome and reason of the attempt that ended it."""
        self.client.update_run(run_id, status="RUNNING")
        tags = self.client.get_run(run_id).data.tags
        for ended in ("pad.outcome", "pad.reason"):
            if ended in tags:
                self.client.delete_tag(run_id, ended)

    def log_artifact(self, run_id: str, path: str, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, path, artifact_path)


def end_run(client: MlflowClient, run_id: str, status: str) -> None:
    """``set_terminated`` without its "View run" lines: printing them costs a ``get_run`` (the whole run, every
    param and tag) per ended run, and two lines per cell in the sweep's log (docs/BENCHMARKS.md §12). Set for the
    whole process, once, never toggled: the driver's threads share os.environ."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    client.set_terminated(run_id, status)


def log_metrics(client: MlflowClient, run_id: str, metrics: list[Metric]) -> None:
    for i in range(0, len(metrics), METRIC_BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + METRIC_BATCH])


def _clip(tags: dict[str, str]) -> dict[str, str]:
    return {k: str(v)[:MAX_TAG] for k, v in tags.items()}


def sweep_frame(record: SweepRecord, parent_id: str, stage: str | None = None):
    """The table's tidy frame (``run_listing.ended_frame``) from MLflow's client entities: the reference the
    REST listing is tested against."""
    from pad_core.integrations.run_listing import ended_frame, from_entity

    return ended_frame([from_entity(run) for run in record.children(parent_id)], stage)


def set_tracking(uri: str) -> None:
    mlflow.set_tracking_uri(uri)
