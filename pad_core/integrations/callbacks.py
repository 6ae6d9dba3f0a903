"""Tune callback on the sweep driver that ends MLflow runs whatever happened to their trial.

Code after ``trainer.fit()`` may never run (a scheduler stops the trial), so runs are finalised here:
completed -> FINISHED, stopped by the scheduler -> KILLED (``pad.outcome=early_stopped``),
errored -> FAILED with the reason on the run.
"""

from __future__ import annotations

import os
import time

from mlflow.entities import Metric
from ray.tune import Callback

from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.options import TrialPlan
from pad_core.integrations.trial import SKIPPED


class FinalizeRuns(Callback):
    def __init__(self, tracking_uri: str, experiment: str, total: int = 0) -> None:
        self.tracking_uri, self.experiment, self.total = tracking_uri, experiment, total
        self._record: SweepRecord | None = None
        self.ended, self.started, self.best = 0, time.monotonic(), None

    def setup(self, **info) -> None:
        self.started = time.monotonic()

    @property
    def record(self) -> SweepRecord:
        if self._record is None:
            self._record = SweepRecord(self.tracking_uri, self.experiment)
        return self._record

    def _run_id(self, trial) -> str | None:
        plan = TrialPlan.from_config(trial.config["plan"])
        run = self.record.find_child(plan.parent_id, plan.cell_key(trial.trial_id))
        return run.info.run_id if run else None

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        result = trial.last_result or {}
        if result.get(SKIPPED):  # another driver's live trial holds the cell: its run is not this trial's to end
            return self._progress(trials, trial, result.get("pad_reason", "not trained"), {})
        run_id = self._run_id(trial)
        if result.get("pad_stopped"):  # the trial ended its run FAILED itself (no retry for deterministic stops)
            return self._progress(trials, trial, f"FAILED: {result.get('pad_reason', '')}", {})
        completed = result.get("final") == 1.0
        if run_id is not None:
            if completed:
                self.record.finalize(run_id, "FINISHED", "completed")
            else:
                self.keep_last_result(run_id, result)
                self.record.finalize(run_id, "KILLED", "early_stopped", "stopped by the Tune scheduler")
        self._progress(trials, trial, "done" if completed else "stopped early", result)

    def keep_last_result(self, run_id: str, result: dict) -> None:
        """A scheduler stop ends the trial inside ``tune.report``, before the worker logs that report to MLflow
        (it logs after Ray has the checkpoint): log the result the scheduler judged, unless it is there."""
        metrics = {k: float(v) for k, v in result.items() if k.count("/") == 2 and isinstance(v, (int, float))}
        if not metrics:
            return
        step = int(result.get("step", 0))
        # by key and step: each key the worker logged at this step already keeps its one value
        missing = {k: v for k, v in metrics.items()
                   if not any(m.step == step for m in self.record.client.get_metric_history(run_id, k))}
        if missing:
            now = int(time.time() * 1000)
            self.record.client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v in missing.items()])

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        """A failed trial Tune will restart: its run stays open and continues (no new MLflow run)."""
        print(f"[padsweep] retrying {TrialPlan.from_config(trial.config['plan']).run_name or trial.trial_id}: "
              f"{_reason(_error_of(trial))}", flush=True)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        run_id = self._run_id(trial)
        reason = _reason(_error_of(trial))
        if run_id is not None:
            self.record.finalize(run_id, "FAILED", "failed", reason)
        self._progress(trials, trial, f"FAILED: {reason}", {})

    def _progress(self, trials, trial, outcome: str, result: dict) -> None:
        """One line per ended trial: its scores, what is running and pending, the best so far, elapsed and
        projected time (Tune's own table is off: it misreads '/' in metric keys as nesting)."""
        self.ended += 1
        name = TrialPlan.from_config(trial.config["plan"]).run_label(trial.trial_id)
        split = "test" if any(k.startswith("test/") for k in result) else "dev"
        shown = {k.rsplit("/", 1)[-1]: v for k, v in result.items()
                 if k.startswith(f"{split}/") and k.rsplit("/", 1)[-1] in ("acer", "auc", "eer")}
        scores = " ".join(f"{split} {k.upper()} {100 * v:.2f}%" for k, v in sorted(shown.items()))
        if "eer" in shown and (self.best is None or shown["eer"] < self.best[0]):
            self.best = (shown["eer"], f"{split} EER {100 * shown['eer']:.2f}% ({name})")
        print(f"[padsweep] {self._count(trials)} {name}: {outcome} {scores}".rstrip() + self._status(trials),
              flush=True)

    def _count(self, trials) -> str:
        return f"{self.ended}/{self.total}" if self.total else str(self.ended)

    def _status(self, trials) -> str:
        running = sum(t.status == "RUNNING" for t in trials)
        total = self.total or len(trials)
        elapsed = time.monotonic() - self.started
        best = f" | best {self.best[1]}" if self.best else ""
        return (f" | running {running}, pending {max(0, total - self.ended - running)}{best} | "
                f"{_clock(elapsed)} elapsed, ~{_clock(elapsed / self.ended * total)} projected")

    def __getstate__(self) -> dict:
        return {"tracking_uri": self.tracking_uri, "experiment": self.experiment, "total": self.total,
                "_record": None, "ended": 0, "started": time.monotonic(), "best": None}


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _error_of(trial):
    """The trial's last error: the exception object, else the text trace in storage, else the local file."""
    for read in (trial.get_pickled_error, trial.get_error):
        try:
            found = read()
        except Exception:  # noqa: BLE001 - storage not synced yet; try the next source
            found = None
        if found:
            return found
    path = trial.error_file
    return open(path).read() if path and os.path.exists(path) else None


def _reason(error) -> str:
    import re

    from pad_core.errors import PadError

    found = error
    for _ in range(8):  # padsweep's own error, as the driver would print it: `key=value: problem. Fix: ...`
        wrapped = getattr(found, "cause", None)  # a RayTaskError keeps the trial's exception in .cause
        if isinstance(found, PadError) and not isinstance(wrapped, BaseException):
            return str(found)[:2000]
        found = wrapped if isinstance(wrapped, BaseException) else getattr(found, "__cause__", None)
    text = str(error) if error else "unknown error"
    rendered = re.findall(r"^\s*[\w.]*Error: (\S+=.*\. Fix: .*)$", text, flags=re.MULTILINE)  # a PadError's line
    if rendered:
        return rendered[-1][:2000]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # The innermost exception line says what went wrong (NonFiniteLoss, TimeBudgetExceeded, ...).
    tail = [ln for ln in lines if "Error" in ln or "Exception" in ln or "Exceeded" in ln]
    return (tail[-1] if tail else lines[-1] if lines else text)[:2000]
