"""The training loop: plain PyTorch, DDP-agnostic, step-based, resumable.

Everything framework-specific arrives through :class:`RunContext` hooks: how the model is wrapped
(DDP), where reports and checkpoints go (Ray Train), where artifacts land (MLflow). Without hooks
it runs on one process, as the tests and ``python -m pad_core train`` do.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from pad_core.config import config_hash
from pad_core.config.schema import RunCfg
from pad_core.data.dataset import StepBatchSampler, to_device
from pad_core.data.families import make_split_datasets
from pad_core.data.loaders import close_eval_loaders, loader_options
from pad_core.data.prepare import prepare, score_level
from pad_core.engine import chaos, checkpoint, precision
from pad_core.engine import distributed as dist
from pad_core.engine.distributed import FiniteWatch
from pad_core.engine.evaluate import both_levels, score_rows, score_set
from pad_core.engine.heap import keep_freed_memory, release_freed_memory
from pad_core.engine.optim import build_optimizer
from pad_core.engine.seed import rng_state, seed_everything, seed_rank_streams
from pad_core.losses import total_loss
from pad_core.metrics import metric_key, select_threshold, split_metrics
from pad_core.metrics.report import final_key, selected_scores
from pad_core.metrics.routing import routing_breakdown, routing_metrics, routing_summary
from pad_core.models import create_model

Report = Callable[[dict[str, float], "str | None", "dict[str, str] | None"], None]


class TrialStopped(RuntimeError):
    """A deterministic stop: a retry would repeat it, so the cell ends FAILED with this reason instead."""


class NonFiniteLoss(TrialStopped):
    """The loss became NaN or inf; the trial stops with this reason."""


class TimeBudgetExceeded(TrialStopped):
    """The trial ran past ``train.max_minutes``."""


@dataclass
class RunContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device | str = "cpu"
    prepare_model: Callable = lambda model: model  # e.g. DDP wrapping
    report: Report = lambda metrics, ckpt, tags: None  # every eval and the final result
    save_artifact: Callable[[str], None] = lambda path: None  # rank 0 files for the run record
    resume_dir: str | None = None  # checkpoint directory to resume from
    images_verified: bool = False  # the sweep's preflight decoded every image already (data.on_corrupt=fail)
    workdir: str = ""  # scratch for checkpoints and score files; "" = a temporary folder removed when fit ends
    best_file: str = ""  # the newest best-dev weights file, when resume_dir does not hold it (checkpoint.BEST_FILE)


def resolve_policy(requested: str, protocol_default: str) -> str:
    return protocol_default if requested == "protocol" else requested


class TrainingRun:
    def __init__(self, cfg: RunCfg, ctx: RunContext | None = None) -> None:
        self.cfg, self.ctx = cfg, ctx or RunContext()
        self.workdir, self.last_ckpt = self.ctx.workdir, ""  # fit() makes a temporary workdir if none is given
        self.protocol = cfg.data.protocol
        self.data = prepare(cfg.data, verify_images=not self.ctx.images_verified)
        self.datasets = make_split_datasets(cfg, self.data)
        self.score_level = score_level(cfg, self.data)  # "frame" or "video" (refused here without video ids)
        seed_everything(cfg.train.seed, self.ctx.rank)
        if cfg.train.cpu_heap_reuse and torch.device(self.ctx.device).type == "cpu":
            release_freed_memory()  # what an earlier run in this process (a reused trial) freed
            keep_freed_memory()
        self.model = create_model(cfg).to(self.ctx.device)
        precision.enable_tf32(self.ctx.device)  # fp32 matmuls outside the autocast regions use TF32 on CUDA
        self.optimizer, self.scheduler = build_optimizer(self.model, cfg.optim, cfg.train.steps)
        self.state = checkpoint.TrainState()
        # best weights not yet on disk as their own file: written with the next checkpoint
        self.best_changed = False
        if self.ctx.resume_dir:
            self.state = checkpoint.load(self.ctx.resume_dir, self.model, self.optimizer, self.scheduler,
                                         rank=self.ctx.rank, world=self.ctx.world_size, device=self.ctx.device,
                                         seed=cfg.train.seed, best_file=self.ctx.best_file)
            # an old checkpoint carried them inside its state: the next checkpoint writes them as a file
            self.best_changed = self.state.best_weights is not None and not checkpoint.meta(self.ctx.resume_dir)
        else:
            seed_rank_streams(cfg.train.seed, self.ctx.rank)
        self.net = self.ctx.prepare_model(self.model)
        self.started = self.last_saved = time.monotonic()  # last_saved: wall-time checkpoint cadence
        # one fault per run and rank under PADSWEEP_CHAOS (reliability tests); seeds and protocol tell runs apart
        self.fault = chaos.injector(f"{config_hash(cfg)}-{cfg.data.protocol}-s{cfg.train.seed}-r{self.ctx.rank}")

    def train_batches(self) -> Iterator:
        per_rank = self.cfg.data.batch_size // self.ctx.world_size
        sampler = StepBatchSampler(self.data.train, per_rank, seed=self.cfg.train.seed, rank=self.ctx.rank,
                                   start_step=self.state.step, balanced=self.cfg.data.sampler == "balanced")
        # A private generator: creating the iterator must not draw from the global RNG that masks use,
        # or a run resumed from a checkpoint would sample different masks than the uninterrupted run.
        return iter(DataLoader(self.datasets["train"], batch_sampler=sampler,
                               generator=torch.Generator().manual_seed(self.cfg.train.seed),
                               **loader_options(self.cfg.data.num_workers, self.ctx.device)))

    def autocast(self):
        return precision.autocast(self.ctx.device, self.cfg.train.precision)

    def train_step(self, batch) -> dict[str, torch.Tensor]:
        inputs, targets, _ = to_device(batch, self.ctx.device)
        with self.autocast():
            out = self.net(inputs)
            loss, terms = total_loss(out, targets, self.cfg.head.loss, self.cfg.loss)
        # No `if not torch.isfinite(loss)` here: a host sync every step. The device remembers the first bad
        # step; _fit reads it (all ranks together) before any evaluation or checkpoint could keep NaN weights.
        self.finite_watch.update(loss, terms)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return {**{k: v.detach() for k, v in terms.items()}, **{f"moe_{k}": v for k, v in out.stats.items()}}

    def check_budget(self) -> None:
        limit = self.cfg.train.max_minutes
        if not limit:
            return
        over = time.monotonic() - self.started > 60 * limit
        if dist.active():
            # Decided by all ranks together (a rank that stopped alone would leave the others in a collective), on
            # the same steps as the finite-loss check: an all-reduce every step would sync the host every step.
            if self.state.step % FiniteWatch.every and self.state.step < self.cfg.train.steps:
                return
            over = dist.any_rank(over, self.ctx.device)
        if over:
            raise TimeBudgetExceeded(f"train.max_minutes={limit} exceeded at step {self.state.step}")

    def fit(self) -> dict[str, float]:
        """Train, evaluating every ``eval_every`` steps, then the final report. A run-owned scratch folder is
        removed at the end, whatever happens (each checkpoint in it is a full model + optimizer state)."""
        owned = not self.ctx.workdir
        self.workdir = self.ctx.workdir or tempfile.mkdtemp(prefix="padrun-")
        try:
            return self._fit()
        finally:
            close_eval_loaders(*self.datasets.values())  # their persistent workers end with the run
            if owned:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _fit(self) -> dict[str, float]:
        window: dict[str, list[torch.Tensor]] = defaultdict(list)
        steps, every = self.cfg.train.steps, self.cfg.train.eval_every
        opened = (time.perf_counter(), self.state.step)  # when and at which step the current window began
        self.finite_watch = FiniteWatch(self.state.step)
        for batch in self.train_batches() if self.state.step < steps else ():
            for k, v in self.train_step(batch).items():
                window[k].append(v)
            self.state.step += 1
            if self.fault:
                self.fault(self.state.step)
            closing = self.state.step % every == 0 or self.state.step == steps
            due = closing or self.state.step % FiniteWatch.every == 0  # the same steps on every rank: check all-reduces
            if due and (reason := self.finite_watch.check()) is not None:
                raise NonFiniteLoss(reason)
            if closing:
                self.close_window(window, opened)
                opened = (time.perf_counter(), self.state.step)
            self.check_budget()
            if self.state.step >= steps:
                break
        return self.final_report()

    def close_window(self, window: dict[str, list[torch.Tensor]], opened: tuple[float, int]) -> None:
        """Evaluate and report the window's training means, plus its wall time per step (data loading included:
        the cost a multi-objective search trades off)."""
        means = {k: float(torch.stack(v).mean()) for k, v in window.items()}
        means["step_seconds"] = self.time_steps(time.perf_counter() - opened[0], self.state.step - opened[1])
        self.evaluate_and_report(means)
        window.clear()

    def time_steps(self, seconds: float, steps: int) -> float:
        """Seconds per step of this window; the run's totals live in the checkpointed state (resume-safe)."""
        history = self.state.history
        history["train_seconds"] = history.get("train_seconds", 0.0) + seconds
        history["timed_steps"] = history.get("timed_steps", 0) + steps
        return seconds / steps

    def scores(self, split: str):
        """(ScoreSet, routing shares per visual MoE layer) of one split."""
        eval_cfg = self.cfg.eval
        raw, routing = score_rows(self.model, self.datasets[split], batch_size=eval_cfg.batch_size,
                                  device=self.ctx.device, rank=self.ctx.rank, world=self.ctx.world_size,
                                  num_workers=self.cfg.data.num_workers, precision=self.cfg.train.precision)
        return score_set(split, self.data.split(split), raw, self.score_level), routing

    def evaluate_and_report(self, train_means: dict[str, float]) -> None:
        dev, routing = self.scores("dev")
        tau = select_threshold("dev_eer", dev=dev, test=None, placement=self.cfg.eval.threshold_placement)
        metrics = split_metrics(dev, self.protocol, tau, self.cfg.eval, compact=True)
        metrics.update({metric_key("dev", self.protocol, k): v
                        for k, v in routing_summary(routing, self.data.dev).items()})
        metrics.update({metric_key("train", self.protocol, k): v for k, v in train_means.items()})
        metrics["step"] = float(self.state.step)
        dev_eer = metrics[metric_key("dev", self.protocol, "eer")]
        if dev_eer < self.state.best_metric and self.cfg.train.select == "best_dev":
            self.state.best_metric, self.state.best_step = dev_eer, self.state.step
            self.state.best_weights = checkpoint.cpu_weights(self.model)
            self.best_changed = True
        self.ctx.report(metrics, self.save_checkpoint() if self.checkpoint_due() else None, None)

    def checkpoint_due(self) -> bool:
        """Every evaluation (``train.checkpoint_minutes=0``), else once that many minutes have passed since the
        last checkpoint; the last step always. Taken by all ranks together: saving gathers every rank's RNG."""
        minutes = self.cfg.train.checkpoint_minutes
        if not minutes:
            return True
        due = time.monotonic() - self.last_saved >= 60 * minutes or self.state.step >= self.cfg.train.steps
        return dist.any_rank(due, self.ctx.device)

    def save_checkpoint(self) -> str | None:
        """Rank 0 writes the checkpoint folder (the best weights only when they changed); every rank takes part
        in gathering the RNG streams. Returns the folder on rank 0, None elsewhere."""
        rng = dist.gather_objects(rng_state(self.ctx.device))
        self.last_saved = time.monotonic()
        if self.ctx.rank != 0:
            return None
        if self.last_ckpt:  # a caller that keeps checkpoints has persisted or moved the previous one by now
            shutil.rmtree(self.last_ckpt, ignore_errors=True)
        best = self.state.best_weights if self.best_changed else None
        self.last_ckpt = checkpoint.save(os.path.join(self.workdir, f"ckpt-{self.state.step:07d}"), self.model,
                                         self.optimizer, self.scheduler, self.state, rng, best)
        self.best_changed = False
        return self.last_ckpt

    def final_report(self) -> dict[str, float]:
        if self.cfg.train.select == "best_dev" and self.state.best_weights is not None:
            self.model.load_state_dict(self.state.best_weights)
        (dev, _), (test, routing) = self.scores("dev"), self.scores("test")
        policy = resolve_policy(self.cfg.eval.threshold_policy, self.data.protocol.threshold_policy)
        tau = select_threshold(policy, dev=dev, test=test, fixed=self.cfg.eval.fixed_threshold,
                               placement=self.cfg.eval.threshold_placement)
        metrics = split_metrics(test, self.protocol, tau, self.cfg.eval)
        # logged at the last step, where the curve already holds the last weights' dev scores: other names
        dev_tau = select_threshold("dev_eer", dev=dev, test=None, placement=self.cfg.eval.threshold_placement)
        metrics.update(selected_scores(split_metrics(dev, self.protocol, dev_tau, self.cfg.eval)))
        # with videos, the test metrics per frame and per video as well (frame_/video_ keys; headline keys unchanged)
        metrics.update(both_levels(self.protocol, (self.data.dev, dev.scores), (self.data.test, test.scores), policy,
                                   self.cfg.eval))
        selected = self.state.best_step if self.cfg.train.select == "best_dev" else self.state.step
        if self.state.history.get("timed_steps"):  # the run's mean step time: a search objective (cost)
            metrics[final_key(metric_key("train", self.protocol, "step_seconds"))] = (
                self.state.history["train_seconds"] / self.state.history["timed_steps"])
        metrics.update({metric_key("test", self.protocol, "selected_step"): float(selected),
                        "step": float(self.state.step), "final": 1.0})
        summary = {**routing_metrics(routing, self.data.test), **routing_summary(routing, self.data.test)}
        metrics.update({metric_key("test", self.protocol, k): v for k, v in summary.items()})
        if self.ctx.rank == 0:
            self.ctx.save_artifact(self.write_scores(dev, test))
            if routing:
                path = os.path.join(self.workdir, "routing.csv")
                routing_breakdown(routing, self.data.test).to_csv(path, index=False)
                self.ctx.save_artifact(path)
        tags = {"pad.threshold_policy": policy}
        if self.data.skipped:  # data.on_corrupt=skip: say on the run how many files it trained without
            tags["pad.data.corrupt_skipped"] = f"{len(self.data.skipped)}: {', '.join(self.data.skipped[:5])}"
        if self.data.notes:  # data findings let through (data.allow_* overrides, rows without a subject)
            tags["pad.data.notes"] = "; ".join(self.data.notes)[:4000]
        self.ctx.report(metrics, None, tags)
        return metrics

    def write_scores(self, *score_sets) -> str:
        import pandas as pd

        parts = []
        for s in score_sets:
            rows = self.data.split(s.split)
            # frames of a video are not independent: the bootstrap resamples videos where no subject is known
            video = ["video"] if "video" in rows.columns else []
            subject = ["subject"] if "subject" in rows.columns else []  # the table's bootstrap resamples subjects
            frame = rows[["path", "subset", "device", "attack_type", "label", *video, *subject]].copy()
            parts.append(frame.assign(split=s.split, score=s.scores))
        path = os.path.join(self.workdir, "scores.csv")
        pd.concat(parts).to_csv(path, index=False)
        return path


def train(cfg: RunCfg, ctx: RunContext | None = None) -> dict[str, float]:
    """Train one config on one protocol and return the final metrics."""
    return TrainingRun(cfg, ctx).fit()
