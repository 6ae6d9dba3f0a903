"""The function every Ray Train worker runs: the plain engine loop with Ray and MLflow hooks.

Rank 0 writes metrics to the trial's MLflow run after Ray has persisted the matching checkpoint, so
a worker that dies and is restored from that checkpoint continues one unbroken metric history.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from typing import Any

import ray.train
import ray.train.torch
import torch

from pad_core.config import from_flat
from pad_core.engine import RunContext, TrainingRun
from pad_core.integrations.cell_checkpoints import CellCheckpoints
from pad_core.integrations.run_logger import RunLogger


def make_hooks(config: dict[str, Any], rank: int, ray_report=ray.train.report, persist=None) -> tuple:
    """(report, save_artifact, logger) for the engine: the checkpoint is persisted, then rank 0 logs to MLflow.

    DDP workers hand the checkpoint to Ray Train's collective ``report``; the in-trial fast path passes
    ``persist`` (the cell's own checkpoint folder, see ``cell_checkpoints``) and reports metrics to Tune after.
    Reports MLflow has not confirmed yet are written into the checkpoint first (see ``run_logger``)."""
    logger = RunLogger(config["tracking_uri"], config["run_id"],
                       max_outage_s=config["tracking_outage_s"]) if rank == 0 else None

    def report(metrics: dict[str, float], ckpt_dir: str | None, tags: dict[str, str] | None) -> None:
        step = int(metrics.get("step", 0))
        if logger:
            logger.enqueue(metrics, step, tags)
            if ckpt_dir:
                logger.spill(ckpt_dir)
        if persist is None:
            checkpoint = ray.train.Checkpoint.from_directory(ckpt_dir) if ckpt_dir else None
            ray_report(metrics, checkpoint=checkpoint)  # collective: every rank, every time
        elif ckpt_dir:
            persist(ckpt_dir, step)
        if logger:
            logger.flush()  # during an MLflow outage this returns at once; the queue waits for the next report
        if persist is not None:
            ray_report(metrics)  # a scheduler stop ends the trial in here: MLflow already has this report
        if ckpt_dir:
            shutil.rmtree(ckpt_dir, ignore_errors=True)  # the persisted copy is what a retry resumes from

    save = logger.artifact if logger else (lambda path: None)
    return report, save, logger


def _prepare(model):
    # MoE experts can receive no tokens in a step; DDP must tolerate parameters without gradients.
    return ray.train.torch.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": True})


def _fit(cfg, checkpoint, logger: RunLogger | None, **ctx_kwargs) -> None:
    with checkpoint.as_directory() if checkpoint else contextlib.nullcontext() as resume_dir:
        run = TrainingRun(cfg, RunContext(resume_dir=resume_dir, **ctx_kwargs))
        if logger:
            logger.adopt(resume_dir)
    run.fit()
    if logger:
        logger.drain()


def train_loop_per_worker(config: dict[str, Any]) -> None:
    # Ray Train logs every report with its full metrics dict at INFO; MLflow already holds them.
    for name in ("ray.train", "ray.train.v2._internal.execution.context"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    report, save, logger = make_hooks(config, rank)  # images_verified: the sweep's preflight decoded them
    _fit(from_flat(config["flat"]), ray.train.get_checkpoint(), logger, rank=rank, world_size=world,
         device=ray.train.torch.get_device(), prepare_model=_prepare, report=report, save_artifact=save,
         images_verified=True)


def train_in_trial(config: dict[str, Any], use_gpu: bool) -> None:
    """The fast path of single-worker trials: the same loop inside the Tune trial, no TorchTrainer (whose
    controller and worker actors cost ~26 s per trial on 2 CPUs). Checkpoints go to the cell's own folder, so a
    Tune retry and the trial of a re-run sweep driver both resume from the last one."""
    from ray import tune

    cells = CellCheckpoints(config["storage_path"], config["sweep"], config["key"])
    report, save, logger = make_hooks(config, 0, ray_report=tune.report, persist=cells.save)
    device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        latest = cells.latest()
        resume_dir = cells.download(latest, tmp) if latest else None
        logger.adopt(resume_dir)
        TrainingRun(from_flat(config["flat"]), RunContext(resume_dir=resume_dir, device=device, report=report,
                                                          save_artifact=save, images_verified=True)).fit()
    logger.drain()  # the trial ends (and its run is finalised) only once MLflow has every report
