"""Hyperparameter search inside one cell: Optuna TPE (seeded) + early stopping on a dev metric (ASHA, or
synchronous successive halving), then the top configurations confirmed on fresh seeds at full budget with no
scheduler (a grid, like an ablation).

The objective may only read dev metrics; a test metric is refused before anything runs.
"""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from pad_core.ablation import AblationSpec, Row
from pad_core.ablation.search_spec import SCHEDULER_NAMES, SearchSpec
from pad_core.audit.inactive import inactive_keys
from pad_core.config import CELL_AXES, RunCfg, diff, from_flat, render_value, to_flat
from pad_core.errors import ConfigError, SweepError
from pad_core.integrations.callbacks import FinalizeRuns
from pad_core.integrations.cluster import connect, max_concurrent
from pad_core.integrations.halving import SuccessiveHalving, milestones
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.options import TrialPlan
from pad_core.integrations.search_report import report_search
from pad_core.integrations.search_trials import SearchTrial, search_trials
from pad_core.integrations.session import Signals, check_lease, driver_signals, fit, sweep_runs
from pad_core.integrations.storage import join
from pad_core.integrations.sweep import (
    SweepOptions,
    check_reachable,
    driver_trainable,
    manifest_digests,
    preflight,
    run_grid,
    tune_storage,
)
from pad_core.integrations.sweep_checks import (
    check_data,
    check_folder_names,
    check_storage,
    data_key,
    data_versions,
    record_data,
    search_folders,
)
from pad_core.metrics.pareto import pareto_order


def _base_cfg(spec: SearchSpec):
    return from_flat({**spec.base, "data.protocol": spec.protocol, "train.seed": spec.search_seed})


def asha(spec: SearchSpec, train, metric: str, mode: str, slots: int) -> tuple[ASHAScheduler, int]:
    """Asynchronous: a rung promotes as soon as a trial is in its best 1/rf so far (Tune caps live trials)."""
    reports = train.steps // train.eval_every + 2  # evals, a last partial eval, the final result
    return ASHAScheduler(time_attr="training_iteration", max_t=reports, grace_period=spec.grace_period,
                         reduction_factor=spec.reduction_factor, metric=metric, mode=mode), slots


def sha(spec: SearchSpec, train, metric: str, mode: str, slots: int) -> tuple[SuccessiveHalving, None]:
    """Synchronous: rungs on evaluation steps. Paused trials are live to Tune, so the scheduler caps the running
    ones itself: Tune's cap on live trials would let no new configuration start once `slots` trials wait."""
    rungs = milestones(spec.grace_period * train.eval_every, spec.reduction_factor, train.steps)
    return SuccessiveHalving(metric, mode, rungs, spec.reduction_factor, spec.num_samples, max_running=slots), None


SCHEDULERS = dict(zip(SCHEDULER_NAMES, (asha, sha)))  # the names a declaration may give


SEARCH_DATA_FIX = ("use a new --sweep-name: a search's trials were drawn and stopped early on the data they saw, so "
                   "it cannot go on with other data (--allow-data-change is for grids)")


def search_tuner(spec: SearchSpec, opts: SweepOptions, parent_id: str, data_version: str) -> tune.Tuner:
    cfg = _base_cfg(spec)
    plan = TrialPlan(sweep=spec.name, stage="search", tracking_uri=opts.tracking_uri, experiment=opts.experiment,
                     parent_id=parent_id, storage_path=opts.storage_path, resources=opts.resources,
                     tracking_outage_s=opts.tracking_outage_s, keep_checkpoints=opts.keep_checkpoints,
                     data_version=data_version,
                     flat={**spec.base, "data.protocol": spec.protocol, "train.seed": spec.search_seed})
    keys, modes = (list(t) for t in zip(*spec.objectives))
    single = len(keys) == 1
    searcher = OptunaSearch(spec.space, metric=keys[0] if single else keys, mode=modes[0] if single else modes,
                            seed=spec.sampler_seed, points_to_evaluate=spec.points_to_evaluate or None)
    slots = max_concurrent(opts.resources, opts.max_concurrent, opts.autoscaling)
    # Multi-objective: the metrics and modes live on the searcher, the first one on the scheduler (platform notes).
    scheduler, limit = SCHEDULERS[spec.scheduler](spec, cfg.train, keys[0], modes[0], slots)
    return tune.Tuner(
        driver_trainable(opts.resources), param_space={"plan": plan.to_config()},
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=spec.num_samples,
                                    max_concurrent_trials=limit),
        run_config=tune.RunConfig(name=spec.name, **tune_storage(opts.storage_path), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=opts.trial_retries),
                                  callbacks=[FinalizeRuns(opts.tracking_uri, opts.experiment, spec.num_samples)]))


def _restore_or_new(spec: SearchSpec, opts: SweepOptions, parent_id: str, data_version: str) -> tune.Tuner:
    storage = tune_storage(opts.storage_path)
    path = join(opts.storage_path, spec.name)
    fs = storage["storage_filesystem"]
    if tune.Tuner.can_restore(path, storage_filesystem=fs):
        print(f"[padsweep] resuming search from {path}", flush=True)
        return tune.Tuner.restore(path, trainable=driver_trainable(opts.resources), resume_unfinished=True,
                                  resume_errored=True, storage_filesystem=fs)
    return search_tuner(spec, opts, parent_id, data_version)


def overrides(base: RunCfg, params: dict[str, str]) -> dict[str, Any]:
    """What a search run changed: its params diffed against the base config, less the keys its config never reads
    (constants a space returns for a branch it did not take, e.g. no mask rates for a non-SoftMoE kind: as a row of
    the confirmation grid they would change nothing, and the grid's dead-toggle audit refuses such rows)."""
    cfg = from_flat(params)
    kept = {k: v for k, (_, v) in diff(base, cfg).items() if k not in CELL_AXES}
    for key in inactive_keys(cfg, list(kept)):
        without = {k: v for k, v in kept.items() if k != key}
        if _builds({**to_flat(base), **without}):  # a key some validation still needs stays
            kept = without
    return kept


def _builds(flat: dict[str, Any]) -> bool:
    try:
        from_flat(flat)
    except ConfigError:
        return False
    return True


def best_configs(trials: list[SearchTrial], spec: SearchSpec) -> list[dict[str, Any]]:
    """Config overrides (:func:`overrides`) of the top-k search trials (search_trials.search_trials, from MLflow):
    by the objective, or with several objectives by Pareto front and then the first objective."""
    base = _base_cfg(spec)
    valued = [t for t in trials if t.values is not None]
    order = pareto_order([t.values for t in valued], [mode for _, mode in spec.objectives])
    return [overrides(base, valued[i].params) for i in order[: spec.top_k]]


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return f"{value:.3g}" if isinstance(value, float) else render_value(value)


BASELINE = "base"  # the confirmation grid's baseline row: the search's base config


def confirm_spec(spec: SearchSpec, configs: list[dict[str, Any]]) -> AblationSpec:
    """The search's base config (the baseline row the table compares with: did the search beat where it started?)
    and the top configurations (exact values in the rows' deltas, 3 significant digits in labels), on fresh seeds.
    A top configuration that is the base config itself (no override) is the baseline row, its label says so."""
    tops = [(f"top{i + 1}", c) for i, c in enumerate(configs)]
    rows = tuple(Row(name, f"{name}: " + ", ".join(f"{k}={_short(v)}" for k, v in sorted(c.items())), c)
                 for name, c in tops if c)
    same = [name for name, c in tops if not c]
    base = Row(BASELINE, "base (the search's starting config" + (f"; = {', '.join(same)})" if same else ")"))
    return AblationSpec(name=f"{spec.name}-confirm", title=f"{spec.title}: top-{len(configs)} confirmed",
                        rows=(base, *rows), protocols=(spec.protocol,), seeds=spec.confirm_seeds,
                        base=spec.base, baseline=BASELINE)


def run_search(spec: SearchSpec, opts: SweepOptions) -> tuple[list[dict[str, Any]], str]:
    """Stage 1 (search on one seed with ASHA), stage 2 (top-k on fresh seeds); returns (best configs, table)."""
    spec.validate()
    with driver_signals() as signals:
        configs = search_stage(spec, opts, signals)
        ranked_by = " then ".join(f"{k} ({m})" for k, m in spec.objectives)
        print(f"[padsweep] best configurations by {ranked_by}{' (Pareto fronts)' if spec.also else ''}: {configs}",
              flush=True)
        return configs, run_grid(confirm_spec(spec, configs), opts, stage="confirm")


def search_stage(spec: SearchSpec, opts: SweepOptions, signals: Signals) -> list[dict[str, Any]]:
    """The search itself, under the sweep's lease (the same exits as a grid: session.py); its best configs."""
    cells = AblationSpec(spec.name, spec.title, (Row("base", "base"),), (spec.protocol,), (spec.search_seed,),
                         base=spec.base).cells()
    digests = manifest_digests(cells)
    preflight(cells, opts.resources, digests=digests)
    check_folder_names(spec.name, search_folders(spec.name, opts.resources))
    check_storage(opts.storage_path)
    check_reachable(opts)
    connect(opts.ray_address)
    signals.reinstall()
    max_concurrent(opts.resources, opts.max_concurrent, opts.autoscaling)  # resources exist: before MLflow
    record, versions = SweepRecord(opts.tracking_uri, opts.experiment), data_versions(digests)
    tags = {"pad.stage": "search", "pad.objective": spec.objective}
    with sweep_runs(record, opts.experiment, spec.name, tags, opts.wait, signals,
                    lambda parent_id: check_data(record, parent_id, versions, False, fix=SEARCH_DATA_FIX),
                    lambda parent_id: record_data(record, parent_id, versions)) as (parent_id, lease):
        fit(_restore_or_new(spec, opts, parent_id, versions[data_key(cells[0].cfg.data)]), signals)
        check_lease(lease, spec.name)
        trials = search_trials(record, parent_id, spec)
        configs = best_configs(trials, spec)
        if not configs:
            raise SweepError("search", spec.name, "no trial reported the objective",
                             "check the trials' errors in MLflow")
        try:
            report_search(record, parent_id, spec, trials)
        except Exception as exc:  # noqa: BLE001 - an analysis of the finished search must not lose the search
            record.client.set_tag(parent_id, "pad.search_report_error", f"{type(exc).__name__}: {exc}"[:4000])
            print(f"[padsweep] the search report failed ({type(exc).__name__}: {exc}); the search and its "
                  "confirmation go on (tag pad.search_report_error on the parent run)", flush=True)
        record.set_status(parent_id, "FINISHED")
        return configs
