"""Each searched parameter's importance: Optuna's fANOVA on the search's trials, rebuilt from MLflow alone.

The study is rebuilt by replaying the search's own define-by-run space: each trial's recorded draws (tag
``pad.draws``) are enqueued, ``study.ask()`` runs the space (so every parameter gets the distribution the search
drew it from, conditional branches included), and the trial's objectives are told. fANOVA fits a random forest,
so its numbers depend on the forest's seed: it runs under several evaluator seeds and reports the mean and the
std across them (the evaluator's spread, not the uncertainty of the trials themselves).

Which trials count: every trial with a value, a stopped-early one at the best value it reported (the value the
top-k ranking used). Leaving those out would rate the parameters only among the trials the scheduler kept, and
a parameter that sinks a trial early would look unimportant. Parameters drawn in only some trials (conditional
branches) are not rated: fANOVA needs every trial to have them (Optuna rates the intersection of the spaces).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd
from optuna.importance import FanovaImportanceEvaluator, get_param_importances
from optuna.search_space import intersection_search_space
from optuna.trial import TrialState

from pad_core.integrations.search_trials import CURVE_BEST, FINAL, SearchTrial, metric_name

IMPORTANCE_SEEDS = (0, 1, 2, 3, 4)  # fANOVA evaluator seeds: the spread across them is reported
COLUMNS = ["objective", "param", "mean", "std", "rank", "seeds", "trials"]


@dataclass(frozen=True)
class Importance:
    frame: pd.DataFrame  # COLUMNS: one row per (objective, rated parameter), most important first
    notes: tuple[str, ...]  # which trials counted and how; what was left out and why; why nothing was rated


def replay_study(trials: list[SearchTrial], spec) -> tuple[optuna.Study, list[SearchTrial], list[str]]:
    """An in-memory study of the trials with a finite value and recorded draws, replayed through ``spec.space``;
    the trials it holds, and why each other trial was left out."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["minimize" if mode == "min" else "maximize" for _, mode in spec.objectives]
    study = optuna.create_study(directions=directions, sampler=optuna.samplers.RandomSampler(seed=0))
    replayed, left_out = [], []
    for t in trials:
        if t.values is None or not all(np.isfinite(t.values)):
            left_out.append(f"{t.name}: no finite objective ({t.outcome or 'not ended'})")
            continue
        if t.draws is None:
            left_out.append(f"{t.name}: no recorded draws (tag pad.draws missing or clipped at MLflow's tag size; "
                            "runs made before the tag existed have none)")
            continue
        study.enqueue_trial(t.draws)
        trial = study.ask()
        try:
            spec.space(trial)
        except Exception as exc:  # noqa: BLE001 - a space edited since (a choice gone, a bound moved) refuses a draw
            study.tell(trial, state=TrialState.FAIL)
            left_out.append(f"{t.name}: the space refuses its draws now ({type(exc).__name__}: {exc})")
            continue
        if any(k not in t.draws or t.draws[k] != v for k, v in trial.params.items()):
            study.tell(trial, state=TrialState.FAIL)  # the space draws other parameters now: not this trial
            left_out.append(f"{t.name}: the space no longer draws what this trial drew")
            continue
        study.tell(trial, list(t.values))
        replayed.append(t)
    return study, replayed, left_out


def _counted(replayed: list[SearchTrial]) -> str:
    final = sum(t.counted_as == FINAL for t in replayed)
    early = sum(t.counted_as == CURVE_BEST for t in replayed)
    return (f"{len(replayed)} trials in the study: {final} at their final report, {early} stopped early by the "
            "scheduler at the best value they reported (the value the top-k ranking used; a smaller budget than a "
            "full run)")


def _why_not(complete: list, space: dict, values: np.ndarray) -> str:
    """Why fANOVA cannot rate anything here ("" if it can)."""
    if len(complete) < 2:
        return f"not rated: fANOVA needs at least 2 trials with a value and draws, there are {len(complete)}"
    varying = [n for n, d in space.items() if not d.single() and len({repr(t.params[n]) for t in complete}) > 1]
    if not varying:
        return "not rated: no parameter drawn in every trial took two different values"
    if np.ptp(values) == 0:
        return "not rated: the objective took the same value in every trial (nothing to explain)"
    return ""


def importance(trials: list[SearchTrial], spec, seeds: tuple[int, ...] = IMPORTANCE_SEEDS) -> Importance:
    """fANOVA importance (normalised to sum to 1 per seed) of each parameter drawn in every rated trial, per
    objective: mean and std (ddof=1) over ``seeds``, ranked by the mean."""
    study, replayed, left_out = replay_study(trials, spec)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    space = intersection_search_space(complete) if complete else {}
    notes = [_counted(replayed), *(f"left out: {why}" for why in left_out)]
    drawn = sorted({n for t in complete for n in t.params})
    if conditional := [n for n in drawn if n not in space]:
        notes.append(f"not rated (drawn in only some trials, conditional): {', '.join(conditional)}")
    rows = []
    for j, (key, _) in enumerate(spec.objectives):
        values = np.array([t.values[j] for t in complete])
        why = _why_not(complete, space, values)
        if why:
            notes.append(f"{metric_name(key)}: {why}")
            continue
        runs = [get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=s), params=sorted(space),
                                      target=lambda t, j=j: t.values[j]) for s in seeds]
        table = pd.DataFrame(runs).astype(float)
        mean, std = table.mean(), table.std(ddof=1) if len(seeds) > 1 else table.std(ddof=0)
        for rank, param in enumerate(mean.sort_values(ascending=False, kind="stable").index, start=1):
            rows.append({"objective": metric_name(key), "param": param, "mean": mean[param], "std": std[param],
                         "rank": rank, "seeds": len(seeds), "trials": len(complete)})
    return Importance(pd.DataFrame(rows, columns=COLUMNS), tuple(notes))
