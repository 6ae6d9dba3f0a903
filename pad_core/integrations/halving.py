"""Synchronous successive halving (one bracket): the early-stopping rule for searches with few configurations
per concurrent slot.

Asynchronous ASHA promotes the first trials to reach a rung before there is anything to compare them with.
With 16 configurations on 2 slots it ran 5 trials to the end where a synchronous rung keeps 1, and it paid
0.63 of the grid's compute (docs/BENCHMARKS.md §6). Here a trial that reaches a rung is PAUSED (its slot is
freed for the next configuration) until every trial of the search has reached that rung or ended. Then the
best ceil(n / factor) resume and the rest stop.

A paused trial resumes from its cell checkpoint, which is written at every evaluation (``train_in_trial``),
or from its Train run's checkpoint on the DDP path. Rungs sit on evaluation steps, so nothing is recomputed.
The clock is the trial's training ``step``, not Tune's ``training_iteration``: a resumed trial reports its
own step, while Tune's iteration counter restarts with the trial process.

After a driver restart (``Tuner.restore``) the scheduler starts empty. The trials Tune holds as ended count as
ended. A resumed trial joins the first rung at or above its next report, so the rung it was waiting at (if
undecided) is not halved again: that costs compute, never a configuration.

Trade-off: a synchronous rung needs every configuration before it can promote any. So the searcher proposes
all ``total`` configurations before it has seen a result, and TPE's guidance is lost. Its first 10 trials
are random anyway (Optuna's ``n_startup_trials``). Prefer ``asha`` when the samples far outnumber the slots.
"""

from __future__ import annotations

import math

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler


def milestones(grace_steps: int, factor: int, max_steps: int) -> tuple[int, ...]:
    """The steps at which trials are compared: grace, grace·factor, grace·factor², … below the full budget."""
    rungs, step = [], grace_steps
    while step < max_steps:
        rungs.append(step)
        step *= factor
    return tuple(rungs)


class SuccessiveHalving(FIFOScheduler):
    """Pause each trial at every rung until the rung is full; keep the best 1/factor (at least one)."""

    def __init__(self, metric: str, mode: str, rungs: tuple[int, ...], factor: int, total: int,
                 max_running: int = 0, time_attr: str = "step") -> None:
        super().__init__()
        self._metric, self._mode = metric, mode
        self.rungs, self.factor, self.total = rungs, factor, total  # total: configurations the search will try
        self.max_running, self.time_attr = max_running, time_attr  # max_running 0 = as many as resources allow
        self.next_rung: dict[str, int] = {}  # trial id -> index of the rung it has yet to reach
        self.values: list[dict[str, float]] = [{} for _ in rungs]  # per rung: trial id -> metric (lower = better)
        self.decided: set[int] = set()
        self.ended: set[str] = set()  # completed, errored or stopped trials
        self.promoted: set[str] = set()  # paused trials that won their rung and may resume

    def on_trial_result(self, tune_controller, trial: Trial, result: dict) -> str:
        step = result.get(self.time_attr, 0)
        if trial.trial_id not in self.next_rung:  # first report: a trial resumed past some rungs skips them
            self.next_rung[trial.trial_id] = next((i for i, r in enumerate(self.rungs) if r >= step), len(self.rungs))
        k = self.next_rung[trial.trial_id]
        if k >= len(self.rungs) or step < self.rungs[k] or self._metric not in result:
            return TrialScheduler.CONTINUE
        value = float(result[self._metric]) * (1 if self._mode == "min" else -1)
        self.values[k][trial.trial_id] = value if math.isfinite(value) else math.inf
        self.next_rung[trial.trial_id] = k + 1
        self.promoted.discard(trial.trial_id)
        if not self._full(tune_controller, k):
            return TrialScheduler.PAUSE
        return self._decide(tune_controller, k, current=trial)

    def _full(self, tune_controller, k: int) -> bool:
        """Every configuration of the search has reached rung k or ended before it. Trials Tune holds as ended
        count too: after a driver restart, this scheduler never saw the earlier rungs' losers end."""
        ended = self.ended | {t.trial_id for t in tune_controller.get_trials()
                              if t.status in (Trial.TERMINATED, Trial.ERROR)}
        return len(self.values[k]) + len(ended - self.values[k].keys()) >= self.total

    def _decide(self, tune_controller, k: int, current: Trial | None) -> str:
        """Stop the rung's losers (paused ones here; the reporting one by the returned action), free the winners."""
        self.decided.add(k)
        alive = sorted((t for t in self.values[k] if t not in self.ended), key=self.values[k].__getitem__)
        winners = set(alive[:max(1, math.ceil(len(alive) / self.factor))])
        action = TrialScheduler.CONTINUE
        for trial in tune_controller.get_trials():
            if trial.trial_id not in alive:
                continue
            if current is not None and trial.trial_id == current.trial_id:
                action = TrialScheduler.CONTINUE if trial.trial_id in winners else TrialScheduler.STOP
            elif trial.trial_id in winners:
                self.promoted.add(trial.trial_id)
            else:
                self.ended.add(trial.trial_id)
                tune_controller.stop_trial(trial)
        return action

    def on_trial_remove(self, tune_controller, trial: Trial) -> None:
        """A trial ended (or was stopped): a rung waiting only for it can now be decided."""
        self.ended.add(trial.trial_id)
        self.promoted.discard(trial.trial_id)
        for k in range(len(self.rungs)):
            if k not in self.decided and self.values[k] and self._full(tune_controller, k):
                self._decide(tune_controller, k, current=None)

    def on_trial_complete(self, tune_controller, trial: Trial, result: dict) -> None:
        self.on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial: Trial) -> None:
        self.on_trial_remove(tune_controller, trial)

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        """New configurations first, then rung winners. A paused trial this scheduler has no record of (a search
        restored after a driver restart) may run too; it joins the first rung at or above its next report."""
        trials = tune_controller.get_trials()
        if self.max_running and sum(t.status == Trial.RUNNING for t in trials) >= self.max_running:
            return None
        for trial in trials:
            if trial.status == Trial.PENDING:
                return trial
        for trial in trials:
            if trial.status == Trial.PAUSED and (trial.trial_id in self.promoted
                                                 or trial.trial_id not in self.next_rung):
                return trial
        return None

    def debug_string(self) -> str:
        reached = ", ".join(f"{r}: {len(v)}" for r, v in zip(self.rungs, self.values))
        return f"Synchronous successive halving, factor {self.factor}, trials at each rung step: {reached}"
