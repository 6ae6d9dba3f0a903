"""Synchronous successive halving: rungs fill before anyone is promoted, the best 1/factor go on, the rest stop,
ended trials do not hold a rung back, and the running cap is the scheduler's own (paused trials are live)."""

import math
from dataclasses import dataclass

import pytest
from ray.tune.schedulers import TrialScheduler

from pad_core.integrations.halving import SuccessiveHalving, milestones

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


@dataclass
class FakeTrial:
    trial_id: str
    status: str = "PENDING"


class FakeController:
    """What the scheduler uses of Tune's controller: the trials, and stopping one (which notifies the scheduler,
    as Tune does for a paused trial)."""

    def __init__(self, n: int) -> None:
        self.trials = [FakeTrial(f"t{i}") for i in range(n)]
        self.scheduler: SuccessiveHalving | None = None

    def get_trials(self):
        return self.trials

    def stop_trial(self, trial) -> None:
        trial.status = "TERMINATED"
        self.scheduler.on_trial_remove(self, trial)


def setup(n: int, rungs=(10, 40), factor=4, max_running=0, mode="min"):
    controller = FakeController(n)
    controller.scheduler = SuccessiveHalving("dev/p1/eer", mode, rungs, factor, n, max_running=max_running)
    return controller, controller.scheduler


def report(controller, scheduler, i: int, step: int, value: float) -> str:
    trial = controller.trials[i]
    trial.status = "RUNNING"
    action = scheduler.on_trial_result(controller, trial, {"step": float(step), "dev/p1/eer": value})
    trial.status = {PAUSE: "PAUSED", STOP: "TERMINATED"}.get(action, "RUNNING")
    return action


@pytest.mark.parametrize("grace, factor, steps, expected", [(20, 4, 90, (20, 80)), (10, 3, 90, (10, 30)),
                                                             (3, 2, 6, (3,)), (90, 2, 90, ())])
def test_milestones_are_grace_times_powers_of_the_factor_below_the_budget(grace, factor, steps, expected):
    assert milestones(grace, factor, steps) == expected


def test_every_trial_waits_at_the_rung_until_it_is_full_then_the_best_quarter_go_on():
    controller, scheduler = setup(8)
    values = [0.5, 0.2, 0.7, 0.1, 0.9, 0.3, 0.8, 0.6]  # t3 and t1 are the best two (ceil(8 / 4) = 2)
    actions = [report(controller, scheduler, i, 10, v) for i, v in enumerate(values)]
    assert actions[:-1] == [PAUSE] * 7
    assert actions[-1] == STOP  # the last reporter (0.6) lost: stopped by the returned action
    assert {t.trial_id for t in controller.trials if t.status == "TERMINATED"} == {"t0", "t2", "t4", "t5", "t6", "t7"}
    assert scheduler.promoted == {"t1", "t3"}
    assert scheduler.choose_trial_to_run(controller).trial_id in {"t1", "t3"}


def test_the_last_reporter_continues_when_it_wins_and_steps_between_rungs_continue():
    controller, scheduler = setup(4, rungs=(10,), factor=2)
    for i, v in enumerate([0.4, 0.3, 0.9]):
        assert report(controller, scheduler, i, 10, v) == PAUSE
    assert report(controller, scheduler, 3, 10, 0.1) == CONTINUE
    assert scheduler.promoted == {"t1"}
    assert report(controller, scheduler, 3, 20, 0.05) == CONTINUE  # past the last rung: runs to the end
    assert report(controller, scheduler, 1, 9, 0.05) == CONTINUE  # before its next rung (a late eval)


def test_trials_that_end_before_a_rung_do_not_hold_it_back():
    controller, scheduler = setup(3, rungs=(10,), factor=2)
    report(controller, scheduler, 0, 10, 0.4)
    report(controller, scheduler, 1, 10, 0.2)
    assert scheduler.promoted == set()  # t2 has not reported yet
    controller.trials[2].status = "ERROR"
    scheduler.on_trial_error(controller, controller.trials[2])  # diverged or failed: the rung is now full
    assert scheduler.promoted == {"t1"} and controller.trials[0].status == "TERMINATED"


def test_max_mode_and_non_finite_values_rank_last():
    controller, scheduler = setup(3, rungs=(10,), factor=3, mode="max")
    report(controller, scheduler, 0, 10, math.nan)
    report(controller, scheduler, 1, 10, 0.6)
    assert report(controller, scheduler, 2, 10, 0.9) == CONTINUE  # AUC-like: higher is better
    assert [t.status for t in controller.trials[:2]] == ["TERMINATED", "TERMINATED"]


def test_new_configurations_start_before_rung_winners_and_the_running_cap_holds():
    controller, scheduler = setup(4, rungs=(10,), factor=2, max_running=2)
    first = scheduler.choose_trial_to_run(controller)
    assert first.trial_id == "t0"
    controller.trials[0].status = controller.trials[1].status = "RUNNING"
    assert scheduler.choose_trial_to_run(controller) is None  # 2 running: the cap, not Tune's live-trial limit
    report(controller, scheduler, 0, 10, 0.1)  # paused: its slot is free for a new configuration
    assert scheduler.choose_trial_to_run(controller).trial_id == "t2"


def test_a_paused_trial_unknown_to_the_scheduler_may_resume():
    """After a driver restart, Tune restores paused trials the fresh scheduler has never seen."""
    controller, scheduler = setup(2, rungs=(10,), factor=2)
    for t in controller.trials:
        t.status = "PAUSED"
    assert scheduler.choose_trial_to_run(controller).trial_id == "t0"


def test_a_restored_search_counts_the_ended_trials_and_resumed_ones_skip_the_rungs_they_passed():
    """After a driver restart: t0–t5 lost rung 10 in the earlier life (Tune holds them TERMINATED), t6 and t7 won
    and resume from their checkpoint at step 10; their first reports (step 20) join rung 40, which fills."""
    controller, scheduler = setup(8, rungs=(10, 40), factor=2)
    for t in controller.trials[:6]:
        t.status = "TERMINATED"
    assert report(controller, scheduler, 6, 20, 0.3) == CONTINUE  # skips rung 10: not halved twice
    assert report(controller, scheduler, 7, 20, 0.2) == CONTINUE
    assert report(controller, scheduler, 6, 40, 0.3) == PAUSE
    assert report(controller, scheduler, 7, 40, 0.2) == CONTINUE  # rung 40 full: 6 ended + 2 reached
    assert controller.trials[6].status == "TERMINATED"
