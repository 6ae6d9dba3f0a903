"""The function every Ray Train worker runs: the plain engine loop with Ray and MLflow hooks.

Rank 0 writes metrics to the trial's MLflow run after Ray has persisted the matching checkpoint, so
a worker that dies and is restored from that checkpoint continues one unbroken metric history. Checkpoints upload
in the background (Ray Train's asynchronous upload; the fast path's upload thread): a report is sent to MLflow at
the next report, once the checkpoint holding it is persisted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
from collections.abc import Callable
from typing import NamedTuple

import pyarrow.fs
import ray.train
import ray.train.torch
import torch

from pad_core import scratch
from pad_core.config import from_flat
from pad_core.engine import RunContext, TrainingRun, TrialStopped
from pad_core.engine.checkpoint import BEST_FILE, meta
from pad_core.engine.context import Report, keep_no_artifact
from pad_core.engine.distributed import find_unused_parameters
from pad_core.integrations.cell_checkpoints import CellCheckpoints, note_discarded
from pad_core.integrations.options import LoopConfig
from pad_core.integrations.run_logger import RunLogger
from pad_core.metrics.report import tune_result

STOP_MARKER = "pad_stopped"  # a final report of a run that ended with a deterministic stop (TrialStopped)
# ... and its reason in the Train run's folder: the driver's Result only carries the last *checkpoint's* metrics
STOP_FILE = "pad_stopped.txt"
BEST_SCORE = "pad_best_step"  # Ray Train keeps the checkpoints scoring highest: the newest one holding best.pt
RESUMED_TAG = "pad.resumed_from_step"  # the checkpoint step the latest resumed attempt started from
NODES_TAG = "pad.nodes"  # the Ray nodes the latest attempt trained on (rank order): where a lost node's cell went


class GpuUnavailable(TrialStopped):
    """The trial holds a GPU that torch cannot use: every retry on that node would train on the CPU or fail."""


def pick_device(gpus: float, hostname: str = "") -> str:
    """``cuda`` for a trial holding GPUs, ``cpu`` otherwise; a GPU trial without CUDA is an error, not a CPU run
    (it would train ~100x slower while holding the GPU). A node whose GPUs are declared for scheduling only
    (``PADSWEEP_DECLARED_GPUS=1``: the fake test cluster) trains on the CPU, and says so once per process."""
    if not gpus:
        return "cpu"
    if os.environ.get("PADSWEEP_DECLARED_GPUS") == "1":
        if not getattr(pick_device, "declared_said", False):
            print(f"--gpus-per-trial={gpus:g}: the GPUs of node {hostname or platform.node()} are declared for "
                  "scheduling only (PADSWEEP_DECLARED_GPUS=1): training on the CPU", flush=True)
            pick_device.declared_said = True
        return "cpu"
    if not torch.cuda.is_available():
        raise GpuUnavailable(
            f"--gpus-per-trial={gpus:g}: this trial holds a GPU but torch.cuda.is_available() is False on node "
            f"{hostname or platform.node()} (torch {torch.__version__}, CUDA {torch.version.cuda}). Fix: install a "
            "CUDA build of torch matching the node's driver on every GPU node (nvidia-smi shows the driver), "
            "or run with --gpus-per-trial 0")
    return "cuda"


def _ray_settle() -> None:
    """Block until Ray Train has persisted every checkpoint reported so far (asynchronous upload)."""
    ray.train.get_all_reported_checkpoints(consistency_mode=ray.train.CheckpointConsistencyMode.COMMITTED)


def _stage(ckpt_dir: str) -> str:
    """Move a checkpoint out of the engine's scratch folder: the upload owns it now and removes it when done."""
    staged = scratch.fresh_path("ckpt")  # the move renames the folder to it (no empty parent left behind)
    shutil.move(ckpt_dir, staged)
    return staged


class Hooks(NamedTuple):
    """What the engine's ``RunContext`` gets from this attempt (see ``pad_core.engine.context``)."""

    report: Report
    settle: Callable[[], None]  # before a checkpoint is written: the previous one is persisted first
    save_artifact: Callable[[str], None]
    logger: RunLogger | None  # rank 0 only


def make_hooks(config: LoopConfig, rank: int, ray_report=ray.train.report,
               persist: Callable[[str, int], None] | None = None, settle: Callable[[], None] = _ray_settle) -> Hooks:
    """The engine's hooks for one attempt: the checkpoint is persisted, then rank 0 logs to MLflow.

    DDP workers hand the checkpoint to Ray Train's collective ``report`` (asynchronous upload); the in-trial fast
    path passes ``persist`` (starts the upload to the cell's own folder, see ``cell_checkpoints``) and reports
    metrics to Tune after. ``settle`` blocks until the checkpoint handed over last is persisted. Reports MLflow has
    not confirmed yet are written into the checkpoint first (see ``run_logger``), and a report is sent to MLflow
    only once a persisted checkpoint holds it, so a retry never logs a step twice."""
    # a run made for this attempt holds no metrics, unless Ray Train restarted the workers within it (DDP path)
    fresh = persist is not None and config.fresh_run
    logger = RunLogger(config.tracking_uri, config.run_id, max_outage_s=config.tracking_outage_s,
                       fresh=fresh) if rank == 0 else None
    in_flight = [False]

    def settle_previous() -> None:
        """The checkpoint handed over last (and the reports spilled into it) is persisted; then MLflow gets them."""
        if in_flight[0]:
            settle()
            in_flight[0] = False
            if logger:
                logger.flush()  # during an MLflow outage this returns at once; the queue waits for the next report

    def report(*, metrics: dict[str, float], checkpoint_dir: str | None = None,
               tags: dict[str, str] | None = None) -> None:  # pad_core.engine.context.Report
        step, final = int(metrics.get("step", 0)), metrics.get("final") == 1.0
        settle_previous()  # the engine settled before writing this checkpoint; a report without one settles here
        staged = _stage(checkpoint_dir) if checkpoint_dir else None
        if logger:
            logger.enqueue(metrics, step, tags)
            if staged:
                logger.spill(staged)
        if persist is None:  # collective: every rank, every time; rank 0's checkpoint name wins
            checkpoint = ray.train.Checkpoint.from_directory(staged) if staged else None
            extra = {BEST_SCORE: float(step if os.path.exists(os.path.join(staged, BEST_FILE)) else -1)} \
                if staged else {}
            mode = ray.train.CheckpointUploadMode.ASYNC if staged else ray.train.CheckpointUploadMode.SYNC
            ray_report({**tune_result(metrics), **extra}, checkpoint=checkpoint,
                       checkpoint_dir_name=f"ckpt-{step:07d}", checkpoint_upload_mode=mode)
        elif staged:
            persist(staged, step)
        in_flight[0] = staged is not None
        if logger and final:  # the final report holds no checkpoint: nothing to wait for (as before)
            logger.flush()
        if persist is not None:
            ray_report(tune_result(metrics))  # a scheduler stop ends the trial in here: MLflow has the earlier ones

    return Hooks(report, settle_previous, logger.artifact if logger else keep_no_artifact, logger)


def _prepare(model, cfg):
    # find_unused_parameters walks the autograd graph every step; only a model family whose parameters can miss
    # a step's graph needs it (SoftMoE/MoAE are dense, SUE's batched experts run even without tokens: see
    # pad_core.engine.distributed.find_unused_parameters).
    unused = find_unused_parameters(cfg)
    return ray.train.torch.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": unused})


def _fit(cfg, checkpoint, logger: RunLogger | None, **ctx_kwargs) -> None:
    # both folders are read while the run is built (weights and state loaded): removed before training starts
    with checkpoint.as_directory() if checkpoint else contextlib.nullcontext() as resume_dir, \
            scratch.folder("best") as best_dir:
        best_file = _best_from_storage(resume_dir, best_dir) if resume_dir else ""
        run = TrainingRun(cfg, RunContext(resume_dir=resume_dir, best_file=best_file, **ctx_kwargs))
        if logger:
            _adopt(logger, resume_dir)
    run.fit()
    if logger:
        logger.drain()


def _best_from_storage(resume_dir: str, into: str) -> str:
    """Ray Train path: best weights the resumed checkpoint does not hold are in the checkpoint that wrote them
    (kept by its ``BEST_SCORE``); copied to a file in the folder ``into``. "" when not needed or not found (the
    engine then names the missing file)."""
    best_step = meta(resume_dir).get("best_step", -1)
    if best_step < 0 or os.path.exists(os.path.join(resume_dir, BEST_FILE)):
        return ""
    storage = ray.train.get_context().get_storage()
    source = f"{storage.build_checkpoint_path_from_name(f'ckpt-{best_step:07d}')}/{BEST_FILE}"
    local = os.path.join(into, BEST_FILE)
    try:
        pyarrow.fs.copy_files(source, local, source_filesystem=storage.storage_filesystem)
    except (OSError, FileNotFoundError):
        return ""
    return local


def train_loop_per_worker(train_loop_config: dict[str, LoopConfig]) -> None:
    config = LoopConfig.from_train_loop_config(train_loop_config)
    # Ray Train logs every report with its full metrics dict at INFO; MLflow already holds them.
    for name in ("ray.train", "ray.train.v2._internal.execution.context"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    hooks = make_hooks(config, rank)
    _note_start(config.key, rank)
    _tag_nodes(hooks.logger, world)
    try:
        pick_device(config.gpus_per_worker)
        cfg = from_flat(config.flat)
        # images_verified: the sweep's preflight decoded them
        _fit(cfg, ray.train.get_checkpoint(), hooks.logger, rank=rank, world_size=world,
             device=ray.train.torch.get_device(), prepare_model=lambda model: _prepare(model, cfg),
             report=hooks.report, settle=hooks.settle, save_artifact=hooks.save_artifact, images_verified=True)
    except TrialStopped as err:
        # A deterministic stop ends the Train run normally, so FailureConfig does not retry (and download the
        # checkpoint for) what would only stop again. Every rank gets here at the same step: the time budget is
        # agreed across ranks. train_driver sees the marker and ends the cell FAILED with the reason.
        reason = f"{type(err).__name__}: {err}"
        if rank == 0:
            storage = context.get_storage()
            with storage.storage_filesystem.open_output_stream(f"{storage.experiment_fs_path}/{STOP_FILE}") as out:
                out.write(reason.encode())
        ray.train.report({STOP_MARKER: 1.0, "pad_reason": reason[:500]})


def _adopt(logger: RunLogger, resume_dir: str | None) -> None:
    """The logger takes over the reports the checkpoint carries; a resumed attempt says from which step
    (``pad.resumed_from_step``, absent on a run that never resumed): a retry that trained from step 0 instead
    would log the same curve (steps already in MLflow are not sent again), so only this tells them apart."""
    logger.adopt(resume_dir)
    if resume_dir:
        logger.enqueue({}, 0, {RESUMED_TAG: str(meta(resume_dir).get("step", "unknown"))})


def _tag_nodes(logger: RunLogger | None, world: int) -> None:
    """Queue the ``pad.nodes`` tag (sent with the first persisted report, as every tag): this attempt's node per
    rank. Collective under DDP: every rank calls it."""
    node = ray.get_runtime_context().get_node_id()
    nodes = [node]
    if world > 1 and torch.distributed.is_initialized():
        nodes = [None] * world
        torch.distributed.all_gather_object(nodes, node)
    if logger:
        logger.enqueue({}, 0, {NODES_TAG: ",".join(nodes)})


def _note_start(key: str, rank: int) -> None:
    """Under fault injection (``PADSWEEP_CHAOS``), each Train worker start leaves a line, so the fault tests can
    count attempts: a deterministic stop must start once, never be retried."""
    if os.environ.get("PADSWEEP_CHAOS") and os.environ.get("PADSWEEP_CHAOS_DIR"):
        name = f"starts-{key.replace('|', '-')}-r{rank}"
        with open(os.path.join(os.environ["PADSWEEP_CHAOS_DIR"], name), "a") as out:
            out.write("start\n")


def train_in_trial(config: LoopConfig) -> None:
    """The fast path of single-worker trials: the same loop inside the Tune trial, no TorchTrainer (whose
    controller and worker actors cost ~26 s per trial on 2 CPUs). Checkpoints go to the cell's own folder, so a
    Tune retry and the trial of a re-run sweep driver both resume from the last one; it is removed once the cell
    finished, unless ``keep_checkpoints``."""
    from ray import tune

    device = pick_device(config.gpus_per_worker)
    cells = CellCheckpoints(config.storage_path, config.sweep, config.key, run_id=config.run_id)
    hooks = make_hooks(config, 0, ray_report=tune.report, persist=cells.save_async, settle=cells.wait)
    logger = hooks.logger
    _tag_nodes(logger, 1)
    # a downloaded checkpoint (~6 GB at paper scale) is read while the run is built: removed before training
    with scratch.folder("resume") as tmp:
        latest = cells.latest()
        foreign = cells.foreign(config.fresh_run) if latest else ""
        if foreign:  # another run's: resuming it would give this run its end without its history
            note_discarded(config.tracking_uri, config.run_id, foreign)
            cells.delete()
            latest = None
        resume_dir = cells.download(latest, tmp) if latest else None
        _adopt(logger, resume_dir)
        run = TrainingRun(from_flat(config.flat), RunContext(
            resume_dir=resume_dir, device=device, report=hooks.report, settle=hooks.settle,
            save_artifact=hooks.save_artifact, images_verified=True))
    try:
        run.fit()
    except BaseException:
        with contextlib.suppress(Exception):  # the training error is the one to report; let the upload end
            cells.wait()
        raise
    cells.wait()
    logger.drain()  # the trial ends (and its run is finalised) only once MLflow has every report
    if not config.keep_checkpoints:
        cells.delete()
