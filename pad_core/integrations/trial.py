"""The Tune trial ("train driver"): get or create its MLflow child run, then fit a TorchTrainer (DDP over
several workers) or, for single-worker trials, run the same loop in the trial itself (the fast path).

Train runs are named after the cell (or the Tune trial), under a shared storage path, so a restarted
driver finds its own Train run and resumes from the latest checkpoint, unless that Train run belongs to another
MLflow run of the cell (deleted in MLflow): then it is removed and the new run trains from step 0. A trial trains
only while it holds its cell's claim (``lease.claim_cell``): a cell held by another driver's live trial is skipped.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

import pyarrow.fs
from ray import tune
from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

from pad_core.config import config_hash, from_flat, render_value, to_flat, to_params
from pad_core.engine import TrialStopped
from pad_core.integrations.cell_checkpoints import note_discarded
from pad_core.integrations.lease import Holding, claim_cell
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.options import LoopConfig, Resources, TrialPlan
from pad_core.integrations.storage import storage_for
from pad_core.integrations.train_worker import BEST_SCORE, STOP_FILE, train_in_trial, train_loop_per_worker
from pad_core.provenance import code_version

SEARCH_PREFIX = "search."  # raw Optuna draws; the search space maps them to config keys
DRAWS_TAG = "pad.draws"  # a search trial's Optuna draws, JSON (replayed by integrations/search_importance.py)
SKIPPED = "pad_skipped"  # the final report of a trial whose cell another driver's live trial holds
OWNER_FILE = "pad_run_id.txt"  # in a Train run folder: the MLflow run its checkpoints belong to


def _search_overrides(config: dict[str, Any]) -> dict[str, Any]:
    """Config keys set by the search space, next to the plan; raw ``search.*`` Optuna draws are not config."""
    return {k: v for k, v in config.items() if k != "plan" and not k.startswith(SEARCH_PREFIX)}


def draws_tag(config: dict[str, Any]) -> dict[str, str]:
    """A search trial's Optuna draws as drawn (the raw ``search.*`` ones too, which are no config), as JSON, so the
    search report can replay them into a study from MLflow alone; nothing for a grid cell (only a plan)."""
    draws = {k: v for k, v in config.items() if k != "plan"}
    return {DRAWS_TAG: json.dumps(draws, sort_keys=True, default=str)} if draws else {}


def run_tags(plan: TrialPlan, cfg, trial_id: str, searched: dict[str, Any]) -> dict[str, str]:
    """Identity tags plus the ablation axes (the row's delta, or the searched values) as ``axis.<key>``."""
    axes = {**plan.axes, **{k: render_value(v) for k, v in searched.items()}}
    return {"pad.sweep": plan.sweep, "pad.stage": plan.stage, "pad.row": plan.row or trial_id,
            "pad.protocol": cfg.data.protocol, "pad.seed": str(cfg.train.seed), "pad.config_hash": config_hash(cfg),
            "pad.code_version": code_version(), "pad.score_level": _score_level(cfg),
            "pad.trial_id": trial_id, **({"pad.identity": plan.identity} if plan.identity else {}),
            **({"pad.data_version": plan.data_version} if plan.data_version else {}),
            **{f"axis.{k}": v for k, v in axes.items()}}


def _score_level(cfg) -> str:
    """The unit the run's metrics count: "frame" or "video" (eval.score_level, else the protocol's own)."""
    from pad_core.data.protocols import load_benchmark, resolve_score_level

    return resolve_score_level(cfg.eval.score_level, load_benchmark(cfg.data.benchmark).protocol(cfg.data.protocol))


def train_driver(config: dict[str, Any]) -> None:
    """Train the trial's cell while holding its claim (two drivers never train one cell, see lease.py)."""
    plan, trial_id = TrialPlan.from_config(config["plan"]), tune.get_context().get_trial_id()
    key, name = plan.cell_key(trial_id), plan.run_label(trial_id)
    held = claim_cell(plan.tracking_uri, plan.parent_id, key, trial_id, f"cell {name}")
    if not isinstance(held, Holding):
        return skip_cell(name, f"the cell is held by a live trial of another driver ({held.who()})")
    with held:
        return train_cell(plan, config, trial_id, key, name)


def skip_cell(name: str, why: str) -> None:
    """The cell is not trained here (held by a live trial of another driver, or finished by one meanwhile): its run
    is not touched; said so."""
    reason = f"not trained here: {why}"
    print(f"[padsweep] {name}: {reason}", flush=True)
    tune.report({"final": 0.0, SKIPPED: 1.0, "pad_reason": reason[:500]})


def train_cell(plan: TrialPlan, config: dict[str, Any], trial_id: str, key: str, name: str) -> None:
    searched = _search_overrides(config)
    cfg = from_flat({**plan.flat, **searched})
    record = SweepRecord(plan.tracking_uri, plan.experiment)
    tags = {**run_tags(plan, cfg, trial_id, searched), **draws_tag(config)}
    child = record.child(plan.parent_id, key, name, tags, to_params(cfg))
    if child.status == "FINISHED" and child.outcome == "completed":  # the claim's last holder finished it meanwhile
        return skip_cell(name, f"another trial finished it after this sweep listed it (run {child.run_id})")
    if child.status != "RUNNING":
        record.reopen(child.run_id)
    res = plan.resources
    loop_config = LoopConfig(flat=to_flat(cfg), tracking_uri=plan.tracking_uri, run_id=child.run_id,
                             storage_path=plan.storage_path, sweep=plan.sweep, key=key,
                             tracking_outage_s=plan.tracking_outage_s, gpus_per_worker=res.gpus_per_worker,
                             keep_checkpoints=plan.keep_checkpoints, fresh_run=child.created)
    try:
        if res.trains_in_trial:
            return train_in_trial(loop_config)
        return fit_trainer(loop_config, res)
    except Exception as err:  # noqa: BLE001 - only deterministic stops are handled; the rest re-raise
        if not is_deterministic_stop(err):
            raise
        stop_cell(record, child.run_id, err)


# also matched by name: Ray Train wraps worker errors in its own
STOPS = ("NonFiniteLoss", "TimeBudgetExceeded", "GpuUnavailable")


def is_deterministic_stop(err: BaseException) -> bool:
    return isinstance(err, TrialStopped) or any(name in str(err) for name in STOPS)


def stop_cell(record: SweepRecord, run_id: str, err: BaseException) -> None:
    """End the cell FAILED with the reason and finish the trial normally, so Tune does not retry what would
    only fail again (a diverging loss, an exhausted time budget); the sweep goes on with the other cells."""
    text = str(err)
    name = next((n for n in STOPS if n in text), type(err).__name__)
    line = next((ln for ln in text.splitlines() if name in ln), text.splitlines()[-1] if text else name)
    reason = line if line.startswith(name) else f"{name}: {line}"
    record.finalize(run_id, "FAILED", "failed", reason)
    tune.report({"final": 0.0, "pad_stopped": 1.0, "pad_reason": reason[:500]})


def fit_trainer(loop_config: LoopConfig, res: Resources) -> None:
    """Fit the cell's Train run; a deterministic stop reported by its workers raises ``TrialStopped`` here (the
    Train run itself ended without a failure, so it was not retried). A finished run's folder is deleted unless
    ``keep_checkpoints``; a failed one keeps it for the resume."""
    storage_path, storage_fs = storage_for(loop_config.storage_path)
    name = train_run_name(loop_config.sweep, loop_config.key)
    fs, run_dir = storage_fs or pyarrow.fs.LocalFileSystem(), posixpath.join(storage_path, name)
    own_train_run(fs, run_dir, loop_config)
    take_stop_reason(fs, run_dir)  # a marker left by an earlier attempt of this cell says nothing about this one
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=loop_config.train_loop_config(),
        scaling_config=res.scaling(),
        run_config=RunConfig(name=name, storage_path=storage_path,
                             storage_filesystem=storage_fs,
                             callbacks=[TuneReportCallback()],
                             failure_config=FailureConfig(max_failures=res.max_failures),
                             # the latest checkpoint is always kept; of the rest, the newest holding best.pt
                             checkpoint_config=CheckpointConfig(num_to_keep=2, checkpoint_score_attribute=BEST_SCORE,
                                                                checkpoint_score_order="max"),
                             logging_config=LoggingConfig(log_level="WARNING")),  # metrics live in MLflow
    )
    trainer.fit()
    reason = take_stop_reason(fs, run_dir)
    if reason is not None:
        raise TrialStopped(reason)
    if not loop_config.keep_checkpoints and fs.get_file_info(run_dir).type == pyarrow.fs.FileType.Directory:
        fs.delete_dir(run_dir)


def train_run_name(sweep: str, key: str) -> str:
    """The cell's Ray Train run folder (one path component: sweep_checks refuses names over 255 bytes)."""
    return f"{sweep}--{key.replace('|', '--')}"


def own_train_run(fs: pyarrow.fs.FileSystem, run_dir: str, loop_config: LoopConfig) -> None:
    """Make the Train run folder this MLflow run's: one left by another run of the cell (deleted in MLflow, so the
    cell got a new run) is removed, or Ray Train would resume its checkpoint into a run without that history."""
    run_id, marker = loop_config.run_id, posixpath.join(run_dir, OWNER_FILE)
    owner = ""
    if fs.get_file_info(marker).type == pyarrow.fs.FileType.File:
        with fs.open_input_stream(marker) as src:
            owner = src.read().decode().strip()
    exists = fs.get_file_info(run_dir).type == pyarrow.fs.FileType.Directory
    if exists and owner != run_id and (owner or loop_config.fresh_run):  # no owner: older code's own run
        fs.delete_dir(run_dir)
        note_discarded(loop_config.tracking_uri, run_id, f"the Ray Train run {run_dir} of MLflow run "
                                                            f"{owner or '(unrecorded)'}")
    fs.create_dir(run_dir, recursive=True)
    with fs.open_output_stream(marker) as out:
        out.write(run_id.encode())


def take_stop_reason(fs: pyarrow.fs.FileSystem, run_dir: str) -> str | None:
    """The reason a Train run's workers stopped deterministically (they left it in the run's folder), removed."""
    marker = posixpath.join(run_dir, STOP_FILE)
    if fs.get_file_info(marker).type != pyarrow.fs.FileType.File:
        return None
    with fs.open_input_stream(marker) as src:
        reason = src.read().decode()
    fs.delete_file(marker)
    return reason

