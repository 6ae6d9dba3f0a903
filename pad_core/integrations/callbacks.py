"""Tune callback on the sweep driver that ends MLflow runs whatever happened to their trial.

Code after ``trainer.fit()`` may never run (a scheduler stops the trial), so runs are finalised here:
completed -> FINISHED, stopped by the scheduler -> KILLED (``pad.outcome=early_stopped``),
errored -> FAILED with the reason on the run.
"""

from __future__ import annotations

from ray.tune import Callback

from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.trial import cell_key


class FinalizeRuns(Callback):
    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self._record: SweepRecord | None = None

    @property
    def record(self) -> SweepRecord:
        if self._record is None:
            self._record = SweepRecord(self.tracking_uri, self.experiment)
        return self._record

    def _run_id(self, trial) -> str | None:
        plan = trial.config["plan"]
        key = cell_key(plan, trial.trial_id)
        runs = self.record._search(f"tags.`mlflow.parentRunId` = '{plan['parent_id']}' and tags.`pad.cell` = '{key}'")
        return runs[0].info.run_id if runs else None

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        run_id = self._run_id(trial)
        if run_id is None:
            return
        if (trial.last_result or {}).get("final") == 1.0:
            self.record.finalize(run_id, "FINISHED", "completed")
        else:
            self.record.finalize(run_id, "KILLED", "early_stopped", "stopped by the Tune scheduler")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        run_id = self._run_id(trial)
        if run_id is not None:
            error = trial.get_error()
            self.record.finalize(run_id, "FAILED", "failed", _reason(error))

    def __getstate__(self) -> dict:
        return {"tracking_uri": self.tracking_uri, "experiment": self.experiment, "_record": None}


def _reason(error) -> str:
    text = str(error) if error else "unknown error"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    # The innermost exception line says what went wrong (NonFiniteLoss, TimeBudgetExceeded, ...).
    tail = [ln for ln in lines if "Error" in ln or "Exception" in ln or "Exceeded" in ln]
    return (tail[-1] if tail else lines[-1] if lines else text)[:2000]
