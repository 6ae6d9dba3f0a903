"""Worker-side (rank 0) logging into an existing MLflow run that survives a tracking-server outage.

Every report is queued, then the queue is sent in order. While the server cannot be reached the reports stay
queued and training goes on; the next report (or the end of the run) sends them. Nothing is dropped silently:
- queued reports travel inside every checkpoint (``pending_reports.json``), so a retry that resumes from it
  sends them again; resending is harmless (MLflow ignores a metric identical in key, step, timestamp, value);
- an outage longer than ``max_outage_s`` fails the trial with that reason (Tune retries it from the checkpoint);
- the end of the run waits for the queue to drain, up to the same bound.

Requests go out with no client-side retries and a short timeout: the MLflow client's default (7 retries with
exponential backoff) would stall a training step for minutes on every report during an outage.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field

from mlflow.entities import Metric, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pad_core import scratch
from pad_core.integrations.mlflow_runs import log_metrics
from pad_core.integrations.options import MAX_OUTAGE_S  # default of --tracking-outage
from pad_core.integrations.services.base import environ

PENDING_FILE = "pending_reports.json"
QUICK = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
STEP, FINAL = "step", "final"  # keys of the engine's reports: the report's step, and the end-of-run marker


class TrackingUnavailable(RuntimeError):
    """The MLflow server stayed unreachable longer than the trial may buffer (a plain error: Ray pickles it)."""


@dataclass
class Report:
    step: int
    timestamp: int  # ms; kept from the first attempt so a resend is an identical (ignored) metric
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)


def is_transient(err: Exception) -> bool:
    """Connection failures and server-side errors (5xx) pass; a rejected request (4xx) would fail forever."""
    if not isinstance(err, MlflowException):
        return isinstance(err, OSError)  # ConnectionError, TimeoutError, ...
    status = err.get_http_status_code()
    return status >= 500 or "failed with exception" in str(err) or "Max retries exceeded" in str(err)


class RunLogger:
    def __init__(self, tracking_uri: str, run_id: str, *, max_outage_s: float = MAX_OUTAGE_S,
                 clock=time.monotonic, fresh: bool = False) -> None:
        self.client, self.run_id, self.tracking_uri = MlflowClient(tracking_uri), run_id, tracking_uri
        self.fresh = fresh  # the run was created for this attempt: it holds no metrics to read back
        self.max_outage_s, self.clock = max_outage_s, clock
        self.pending: list[Report] = []
        self.artifacts: list[str] = []  # copies of files whose upload waits for the server
        self.down_since: float | None = None
        self.logged_steps: dict[str, set[int]] = {}  # marker key -> steps the run holds (see _logged_at_step)

    def log(self, metrics: dict[str, float], step: int, tags: dict[str, str] | None = None) -> None:
        self.enqueue(metrics, step, tags)
        self.flush()

    def enqueue(self, metrics: dict[str, float], step: int, tags: dict[str, str] | None = None) -> None:
        # "step" is the report's step itself, not a measurement: as a metric it was a second entry at the last
        # step (the last evaluation and the final report share it)
        values = {k: float(v) for k, v in metrics.items() if k != STEP}
        self.pending.append(Report(step, int(time.time() * 1000), values, dict(tags or {})))

    def flush(self) -> bool:
        """Send queued reports in order; True when the queue is empty. Raises once the outage is too long."""
        while self.pending or self.artifacts:
            try:
                with environ(QUICK):
                    self._send_next()
            except Exception as err:  # noqa: BLE001 - classified just below
                if not is_transient(err):
                    raise
                return self._outage(err)
        if self.down_since is not None:
            print(f"[padsweep] MLflow is back after {self.clock() - self.down_since:.0f} s: queued reports sent",
                  flush=True)
            self.down_since = None
        return True

    def _send_next(self) -> None:
        if self.pending:  # reports first: artifacts (scores.csv) come at the end of a run
            self._send(self.pending[0])
            self.pending.pop(0)
        else:
            self.client.log_artifact(self.run_id, self.artifacts[0])
            shutil.rmtree(os.path.dirname(self.artifacts.pop(0)), ignore_errors=True)

    def _send(self, report: Report) -> None:
        ordered = sorted(report.metrics.items(), key=lambda item: item[0] == FINAL)  # FINAL in the last batch
        if ordered and not self._logged_at_step(report, marker=ordered[-1][0]):
            log_metrics(self.client, self.run_id, [Metric(k, v, report.timestamp, report.step) for k, v in ordered])
            self.logged_steps[ordered[-1][0]].add(report.step)
        if report.tags:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in report.tags.items()])

    def _logged_at_step(self, report: Report, marker: str) -> bool:
        """Whether the run holds this report's step already (the first one stands: one value per key and step).

        A trial resumes from its last checkpoint, which may be older than its last report: checkpoints are written by
        wall time (every 2 minutes at paper scale, dozens of evaluations apart), and a final report travels in no
        checkpoint. The steps between are trained and reported again with new timestamps, and MLflow would keep both
        values. ``marker`` is the key sent last (``final`` when present), so its presence at the step means the whole
        report arrived. (A resend of a queued report carries its first timestamp: MLflow ignores an identical metric
        either way.)"""
        if marker not in self.logged_steps:  # read once per trial and key: later reports are this logger's own
            self.logged_steps[marker] = set() if self.fresh else \
                {m.step for m in self.client.get_metric_history(self.run_id, marker)}  # 2 requests a cell saved
        return report.step in self.logged_steps[marker]

    def _outage(self, err: Exception) -> bool:
        now = self.clock()
        if self.down_since is None:
            self.down_since = now
            print(f"[padsweep] MLflow at {self.tracking_uri} unreachable ({type(err).__name__}); training goes on, "
                  f"reports are queued for up to {self.max_outage_s:.0f} s", flush=True)
        if now - self.down_since > self.max_outage_s:
            queued = len(self.artifacts)
            for copy in self.artifacts:  # the run fails here: its retry writes its files again
                shutil.rmtree(os.path.dirname(copy), ignore_errors=True)
            self.artifacts.clear()
            raise TrackingUnavailable(
                f"MLflow at {self.tracking_uri} unreachable for {now - self.down_since:.0f} s (--tracking-outage="
                f"{self.max_outage_s:.0f}) with {len(self.pending)} reports and {queued} artifacts "
                "queued; the reports are kept in the checkpoint. Fix: bring the tracking server back; the retried "
                "trial resends them")
        return False

    def drain(self, poll_s: float = 2.0) -> None:
        """At the end of the run: wait until the queue is sent, or raise after ``max_outage_s`` of outage."""
        while not self.flush():
            time.sleep(poll_s)

    def spill(self, folder: str) -> None:
        """Write the queue into a checkpoint folder (a retry resuming from it resends what was not sent)."""
        if self.pending:
            with open(os.path.join(folder, PENDING_FILE), "w") as out:
                json.dump([asdict(r) for r in self.pending], out)

    def adopt(self, folder: str | None) -> None:
        """Queue the reports a checkpoint carried, ahead of the new ones."""
        path = os.path.join(folder, PENDING_FILE) if folder else ""
        if path and os.path.exists(path):
            with open(path) as src:
                self.pending = [Report(**r) for r in json.load(src)] + self.pending

    def artifact(self, path: str) -> None:
        """Upload a file; during an outage a copy waits in the queue (the caller may delete the original)."""
        spool = scratch.make("artifact")
        self.artifacts.append(shutil.copy(path, spool))
        self.flush()
