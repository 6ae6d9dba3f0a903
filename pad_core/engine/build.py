"""Building a training run: data (with its image checks), model, optimiser and the state training starts from.

Everything here runs once, before the first step, and hands what it built to the running side
(``pad_core.engine.loop.TrainingRun``) as one :class:`Built`: the same split as mae's ``main`` (building) and
``train_one_epoch`` / ``evaluate`` (running). The order of the steps is part of the result: the global RNG is
seeded before the model draws its initial weights, and the per-rank streams are seeded (fresh run) or restored
(resume) after that, so a resumed run continues the draws of the uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from pad_core.config.schema import RunCfg
from pad_core.data.dataset import StepBatchSampler
from pad_core.data.families import make_split_datasets
from pad_core.data.loaders import loader_options
from pad_core.data.prepare import ProtocolData, prepare, score_level
from pad_core.engine import checkpoint, precision
from pad_core.engine.context import RunContext
from pad_core.engine.heap import keep_freed_memory, release_freed_memory
from pad_core.engine.optim import build_optimizer
from pad_core.engine.seed import seed_everything, seed_rank_streams
from pad_core.models import create_model


@dataclass(frozen=True)
class RunData:
    """The protocol's rows (images checked unless the sweep's preflight did) and the datasets over them."""

    rows: ProtocolData
    datasets: dict[str, Dataset]  # "train", "dev", "test"
    score_level: str  # "frame" or "video": the unit a score is given to


@dataclass(frozen=True)
class Start:
    """Where training starts: step 0, or the state of the checkpoint in ``RunContext.resume_dir``."""

    state: checkpoint.TrainState  # advanced in place by the running side
    best_unsaved: bool  # the best weights are not on disk as their own file yet: the next checkpoint writes them


@dataclass(frozen=True)
class Built:
    """What a training run is made of; the running side reads these and changes only ``start.state`` (and the
    model, optimiser and scheduler by training them)."""

    data: RunData
    model: torch.nn.Module  # the bare model: evaluation, checkpoints and best weights read it
    net: torch.nn.Module  # what the train step calls: the model as ``RunContext.prepare_model`` wrapped it (DDP)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    train_loader: DataLoader  # endless step-indexed batches from ``start.state.step`` on
    start: Start


def build_data(cfg: RunCfg, ctx: RunContext) -> RunData:
    """The protocol's rows and datasets; decodes every image first unless the sweep's preflight did, and refuses a
    video score level without video ids, before any model is built."""
    rows = prepare(cfg.data, verify_images=not ctx.images_verified)
    return RunData(rows, make_split_datasets(cfg, rows), score_level(cfg, rows))


def build_model(cfg: RunCfg, ctx: RunContext) -> torch.nn.Module:
    """The model on its device, initialised from the seeded global RNG (the caller seeds it first)."""
    if cfg.train.cpu_heap_reuse and torch.device(ctx.device).type == "cpu":
        release_freed_memory()  # what an earlier run in this process (a reused trial) freed
        keep_freed_memory()
    model = create_model(cfg).to(ctx.device)
    precision.enable_tf32(ctx.device)  # fp32 matmuls outside the autocast regions use TF32 on CUDA
    return model


def build_start(cfg: RunCfg, ctx: RunContext, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler) -> Start:
    """Restore model, optimiser, schedule, RNG streams and train state from ``ctx.resume_dir``, or seed the
    per-rank streams of a fresh run. Restores into the bare model, before ``RunContext.prepare_model`` wraps it."""
    if not ctx.resume_dir:
        seed_rank_streams(cfg.train.seed, ctx.rank)
        return Start(checkpoint.TrainState(), best_unsaved=False)
    state = checkpoint.load(ctx.resume_dir, model, optimizer, scheduler, rank=ctx.rank, world=ctx.world_size,
                            device=ctx.device, seed=cfg.train.seed, best_file=ctx.best_file)
    # an old checkpoint carried them inside its state: the next checkpoint writes them as a file
    return Start(state, best_unsaved=state.best_weights is not None and not checkpoint.meta(ctx.resume_dir))


def build_train_loader(cfg: RunCfg, ctx: RunContext, data: RunData, start_step: int) -> DataLoader:
    """Batches of this rank from ``start_step`` on; batch t depends only on (seed, rank, t), so a resumed run
    continues the uninterrupted run's sequence. Creating it starts no worker (that happens on first iteration)."""
    per_rank = cfg.data.batch_size // ctx.world_size
    sampler = StepBatchSampler(data.rows.train, per_rank, seed=cfg.train.seed, rank=ctx.rank,
                               start_step=start_step, balanced=cfg.data.sampler == "balanced")
    # A private generator: creating the iterator must not draw from the global RNG that masks use,
    # or a run resumed from a checkpoint would sample different masks than the uninterrupted run.
    return DataLoader(data.datasets["train"], batch_sampler=sampler,
                      generator=torch.Generator().manual_seed(cfg.train.seed),
                      **loader_options(cfg.data.num_workers, ctx.device))


def build_training(cfg: RunCfg, ctx: RunContext) -> Built:
    """Everything a run needs before its first step, in the order that makes a resume reproduce the run."""
    data = build_data(cfg, ctx)
    seed_everything(cfg.train.seed, ctx.rank)
    model = build_model(cfg, ctx)
    optimizer, scheduler = build_optimizer(model, cfg.optim, cfg.train.steps)
    start = build_start(cfg, ctx, model, optimizer, scheduler)
    net = ctx.prepare_model(model)
    return Built(data, model, net, optimizer, scheduler, build_train_loader(cfg, ctx, data, start.state.step), start)
