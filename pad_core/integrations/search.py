"""Hyperparameter search inside one cell: Optuna TPE (seeded) + ASHA on a dev metric, then the top
configurations confirmed on fresh seeds at full budget with no scheduler (a grid, like an ablation).

The objective may only read dev metrics; a test metric is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from pad_core.ablation import AblationSpec, Row
from pad_core.config import CELL_AXES, diff, from_flat, render_value
from pad_core.errors import SweepError
from pad_core.integrations.callbacks import FinalizeRuns
from pad_core.integrations.cluster import connect, max_concurrent
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.storage import join
from pad_core.integrations.sweep import SweepOptions, driver_trainable, preflight, run_grid, tune_storage
from pad_core.integrations.trial import TrialPlan


@dataclass(frozen=True)
class SearchSpec:
    name: str  # sweep id
    title: str  # caption of the confirmation table
    base: dict[str, Any]  # flat config the search starts from
    space: Callable  # define-by-run function of an Optuna trial (see search_spaces/)
    protocol: str  # the cell searched in
    metric: str = "eer"  # dev metric to minimise/maximise (dev/<protocol>/<metric>)
    mode: str = "min"
    num_samples: int = 16  # configurations tried
    search_seed: int = 0  # training seed of every search trial
    sampler_seed: int = 0  # TPE seed
    grace_period: int = 1  # ASHA: reports before a trial can be stopped
    reduction_factor: int = 2  # ASHA: keep 1/rf at each rung
    top_k: int = 2  # configurations confirmed
    confirm_seeds: tuple[int, ...] = (100, 101)  # fresh seeds for the confirmation
    points_to_evaluate: list[dict] = field(default_factory=list)  # known-good starting points

    @property
    def objective(self) -> str:
        return f"dev/{self.protocol.lower()}/{self.metric}"

    def validate(self) -> None:
        if self.metric.startswith(("test", "test/")) or self.objective.split("/")[0] != "dev":
            raise SweepError("search metric", self.metric, "a search may only read dev metrics",
                             "optimise a dev metric such as eer, auc or acer (keys dev/<protocol>/<metric>)")
        if self.mode not in ("min", "max"):
            raise SweepError("search mode", self.mode, "unknown mode", "use min or max")
        if self.top_k > self.num_samples:
            raise SweepError("top_k", self.top_k, f"more than the {self.num_samples} samples", "lower --top-k")


def _base_cfg(spec: SearchSpec):
    return from_flat({**spec.base, "data.protocol": spec.protocol, "train.seed": spec.search_seed})


def search_tuner(spec: SearchSpec, opts: SweepOptions, parent_id: str) -> tune.Tuner:
    cfg = _base_cfg(spec)
    reports = cfg.train.steps // cfg.train.eval_every + 2  # evals, a last partial eval, the final result
    plan = TrialPlan(sweep=spec.name, stage="search", tracking_uri=opts.tracking_uri, experiment=opts.experiment,
                     parent_id=parent_id, storage_path=opts.storage_path, resources=opts.resources,
                     flat={**spec.base, "data.protocol": spec.protocol, "train.seed": spec.search_seed})
    searcher = OptunaSearch(spec.space, metric=spec.objective, mode=spec.mode, seed=spec.sampler_seed,
                            points_to_evaluate=spec.points_to_evaluate or None)
    scheduler = ASHAScheduler(time_attr="training_iteration", max_t=reports, grace_period=spec.grace_period,
                              reduction_factor=spec.reduction_factor)
    return tune.Tuner(
        driver_trainable(opts.resources), param_space={"plan": plan.as_config()},
        tune_config=tune.TuneConfig(metric=spec.objective, mode=spec.mode, search_alg=searcher, scheduler=scheduler,
                                    num_samples=spec.num_samples,
                                    max_concurrent_trials=max_concurrent(opts.resources, opts.max_concurrent,
                                                                         opts.autoscaling)),
        run_config=tune.RunConfig(name=spec.name, **tune_storage(opts.storage_path), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=opts.trial_retries),
                                  callbacks=[FinalizeRuns(opts.tracking_uri, opts.experiment, spec.num_samples)]))


def _restore_or_new(spec: SearchSpec, opts: SweepOptions, parent_id: str) -> tune.Tuner:
    storage = tune_storage(opts.storage_path)
    path = join(opts.storage_path, spec.name)
    fs = storage["storage_filesystem"]
    if tune.Tuner.can_restore(path, storage_filesystem=fs):
        print(f"[padsweep] resuming search from {path}", flush=True)
        return tune.Tuner.restore(path, trainable=driver_trainable(opts.resources), resume_unfinished=True,
                                  resume_errored=True, storage_filesystem=fs)
    return search_tuner(spec, opts, parent_id)


def best_configs(record: SweepRecord, parent_id: str, spec: SearchSpec) -> list[dict[str, Any]]:
    """Config overrides of the top-k search runs, ranked by the best dev objective each reported (from MLflow).

    The overrides are what the search space changed: the run's params diffed against the base config.
    """
    base, scored = _base_cfg(spec), []
    pick = min if spec.mode == "min" else max
    for run in record.children(parent_id):
        history = record.client.get_metric_history(run.info.run_id, spec.objective)
        if history:
            scored.append((pick(m.value for m in history), run))
    scored.sort(key=lambda pair: pair[0], reverse=spec.mode == "max")
    return [{k: v for k, (_, v) in diff(base, from_flat(run.data.params)).items() if k not in CELL_AXES}
            for _, run in scored[: spec.top_k]]


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return f"{value:.3g}" if isinstance(value, float) else render_value(value)


def confirm_spec(spec: SearchSpec, configs: list[dict[str, Any]]) -> AblationSpec:
    """The top configurations as rows (exact values in the rows' deltas, 3 significant digits in labels)."""
    rows = tuple(Row(f"top{i + 1}", f"top{i + 1}: " + ", ".join(f"{k}={_short(v)}" for k, v in sorted(c.items())), c)
                 for i, c in enumerate(configs))
    return AblationSpec(name=f"{spec.name}-confirm", title=f"{spec.title}: top-{len(rows)} confirmed",
                        rows=rows, protocols=(spec.protocol,), seeds=spec.confirm_seeds, base=spec.base)


def run_search(spec: SearchSpec, opts: SweepOptions) -> tuple[list[dict[str, Any]], str]:
    """Stage 1 (search on one seed with ASHA), stage 2 (top-k on fresh seeds); returns (best configs, table)."""
    spec.validate()
    preflight(AblationSpec(spec.name, spec.title, (Row("base", "base"),), (spec.protocol,), (spec.search_seed,),
                           base=spec.base).cells(), opts.resources)
    connect(opts.ray_address)
    record = SweepRecord(opts.tracking_uri, opts.experiment)
    parent_id = record.parent(spec.name, {"pad.stage": "search", "pad.objective": spec.objective})
    _restore_or_new(spec, opts, parent_id).fit()
    record.set_status(parent_id, "FINISHED")
    configs = best_configs(record, parent_id, spec)
    if not configs:
        raise SweepError("search", spec.name, "no trial reported the objective", "check the trials' errors in MLflow")
    print(f"[padsweep] best configurations by {spec.objective}: {configs}", flush=True)
    return configs, run_grid(confirm_spec(spec, configs), opts, stage="confirm")
