"""Running a training run: plain PyTorch, DDP-agnostic, step-based, resumable.

``pad_core.engine.build.build_training`` builds the data, model, optimiser and start state; :class:`TrainingRun`
runs them: train steps, an evaluation every ``train.eval_every`` steps (with its checkpoint), the final report.
Everything framework-specific arrives through :class:`RunContext` hooks (``pad_core.engine.context``): how the
model is wrapped (DDP), where reports and checkpoints go (Ray Train), where artifacts land (MLflow). Without hooks
it runs on one process, as the tests and ``python -m pad_core train`` do.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator

import torch

from pad_core import scratch
from pad_core.config.schema import RunCfg
from pad_core.data.dataset import to_device
from pad_core.data.loaders import close_eval_loaders
from pad_core.engine import chaos, checkpoint, precision
from pad_core.engine import distributed as dist
from pad_core.engine.build import build_train_loader, build_training
from pad_core.engine.context import Report, RunContext
from pad_core.engine.distributed import FiniteWatch
from pad_core.engine.evaluate import both_levels, score_rows, score_set
from pad_core.engine.seed import rng_state
from pad_core.losses import total_loss
from pad_core.metrics import metric_key, select_threshold, split_metrics
from pad_core.metrics.report import final_key, selected_scores
from pad_core.metrics.routing import routing_breakdown, routing_metrics, routing_summary
from pad_core.metrics.thresholds import ScoreSet

__all__ = ["NonFiniteLoss", "Report", "RunContext", "TimeBudgetExceeded", "TrainingRun", "TrialStopped", "train"]


class TrialStopped(RuntimeError):
    """A deterministic stop: a retry would repeat it, so the cell ends FAILED with this reason instead."""


class NonFiniteLoss(TrialStopped):
    """The loss became NaN or inf; the trial stops with this reason."""


class TimeBudgetExceeded(TrialStopped):
    """The trial ran past ``train.max_minutes``."""


def resolve_policy(requested: str, protocol_default: str) -> str:
    return protocol_default if requested == "protocol" else requested


class TrainingRun:
    """One run of one config on one protocol: built on construction (``build_training``), run by :meth:`fit`."""

    def __init__(self, cfg: RunCfg, ctx: RunContext | None = None) -> None:
        self.cfg, self.ctx = cfg, ctx or RunContext()
        self.protocol = cfg.data.protocol
        built = build_training(cfg, self.ctx)
        self.run_data = built.data  # rows, datasets, score level: a later fit() builds its loader from them
        self.model, self.net, self.train_loader = built.model, built.net, built.train_loader
        self.optimizer, self.scheduler = built.optimizer, built.scheduler
        self.state = built.start.state
        self.best_unsaved = built.start.best_unsaved  # best weights not on disk as their own file yet
        self.workdir, self.last_ckpt = self.ctx.workdir, ""  # fit() makes a temporary workdir if none is given
        self.started = self.last_saved = time.monotonic()  # last_saved: wall-time checkpoint cadence

    @property
    def rows(self):
        """The protocol's rows (ProtocolData): splits, the protocol, notes on the data."""
        return self.run_data.rows

    @property
    def datasets(self):
        return self.run_data.datasets

    @property
    def score_level(self) -> str:
        return self.run_data.score_level

    def train_batches(self) -> Iterator:
        """The built loader's batches: the run lets go of the loader, so its workers (persistent) end with the
        training loop, before the final evaluation starts its own. A later fit() (after an interrupted one) builds
        a new loader from the current step, as the run did before building and running were split."""
        loader = self.train_loader or build_train_loader(self.cfg, self.ctx, self.run_data, self.state.step)
        self.train_loader = None
        return iter(loader)

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
        self.workdir = self.ctx.workdir or scratch.make("run")
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
        # one fault per run and rank under PADSWEEP_CHAOS (reliability tests), after the step it names
        fault = chaos.run_injector(self.cfg, self.ctx.rank)
        for batch in self.train_batches() if self.state.step < steps else ():
            for k, v in self.train_step(batch).items():
                window[k].append(v)
            self.state.step += 1
            if fault:
                fault(self.state.step)
            closing = self.state.step % every == 0 or self.state.step == steps
            self.check_finite(closing)
            if closing:
                self.close_window(window, opened)
                opened = (time.perf_counter(), self.state.step)
            self.check_budget()
            if self.state.step >= steps:
                break
        return self.final_report()

    def check_finite(self, closing: bool) -> None:
        """Raise :class:`NonFiniteLoss` at the first check after a bad step: every ``FiniteWatch.every`` steps and
        before each evaluation (the same steps on every rank: the check all-reduces)."""
        due = closing or self.state.step % FiniteWatch.every == 0
        if due and (reason := self.finite_watch.check()) is not None:
            raise NonFiniteLoss(reason)

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

    def scores(self, split: str) -> tuple[ScoreSet, dict]:
        """(ScoreSet, routing shares per visual MoE layer) of one split."""
        eval_cfg = self.cfg.eval
        raw, routing = score_rows(self.model, self.datasets[split], batch_size=eval_cfg.batch_size,
                                  device=self.ctx.device, rank=self.ctx.rank, world=self.ctx.world_size,
                                  num_workers=self.cfg.data.num_workers, precision=self.cfg.train.precision)
        return score_set(split, self.rows.split(split), raw, self.score_level), routing

    def evaluate_and_report(self, train_means: dict[str, float]) -> None:
        """Score dev, keep the weights if they are the best so far, checkpoint when due, report."""
        metrics = self.dev_metrics(train_means)
        self.keep_if_best(metrics[metric_key("dev", self.protocol, "eer")])
        checkpoint_dir = self.save_checkpoint() if self.checkpoint_due() else None
        self.ctx.report(metrics=metrics, checkpoint_dir=checkpoint_dir)

    def dev_metrics(self, train_means: dict[str, float]) -> dict[str, float]:
        """The curve's point at this step: compact dev metrics, dev routing summary, the window's train means."""
        dev, routing = self.scores("dev")
        tau = select_threshold("dev_eer", dev=dev, test=None, placement=self.cfg.eval.threshold_placement)
        metrics = split_metrics(dev, self.protocol, tau, self.cfg.eval, compact=True)
        metrics.update({metric_key("dev", self.protocol, k): v
                        for k, v in routing_summary(routing, self.rows.dev).items()})
        metrics.update({metric_key("train", self.protocol, k): v for k, v in train_means.items()})
        metrics["step"] = float(self.state.step)
        return metrics

    def keep_if_best(self, dev_eer: float) -> None:
        """Under ``train.select=best_dev``, a CPU copy of the weights with the lowest dev EER so far."""
        if dev_eer < self.state.best_metric and self.cfg.train.select == "best_dev":
            self.state.best_metric, self.state.best_step = dev_eer, self.state.step
            self.state.best_weights = checkpoint.cpu_weights(self.model)
            self.best_unsaved = True

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
        in gathering the RNG streams. Returns the folder on rank 0, None elsewhere. Rank 0 first waits until the
        previous checkpoint is persisted (``RunContext.settle``): after the gather, so the other ranks wait in the
        report's barrier (no timeout), not in a process-group collective (30 min, then NCCL aborts)."""
        rng = dist.gather_objects(rng_state(self.ctx.device))
        self.last_saved = time.monotonic()
        if self.ctx.rank != 0:
            return None
        self.ctx.settle()
        if self.last_ckpt:  # a caller that keeps checkpoints has persisted or moved the previous one by now
            shutil.rmtree(self.last_ckpt, ignore_errors=True)
        best = self.state.best_weights if self.best_unsaved else None
        self.last_ckpt = checkpoint.save(os.path.join(self.workdir, f"ckpt-{self.state.step:07d}"), self.model,
                                         self.optimizer, self.scheduler, self.state, rng, best)
        self.best_unsaved = False
        return self.last_ckpt

    def final_report(self) -> dict[str, float]:
        """Score the selected weights on dev and test, save the score files (rank 0), report and return the
        final metrics."""
        if self.cfg.train.select == "best_dev" and self.state.best_weights is not None:
            self.model.load_state_dict(self.state.best_weights)
        (dev, _), (test, routing) = self.scores("dev"), self.scores("test")
        policy = resolve_policy(self.cfg.eval.threshold_policy, self.rows.protocol.threshold_policy)
        metrics = self.final_metrics(dev, test, routing, policy)
        if self.ctx.rank == 0:
            self.save_score_files(dev, test, routing)
        self.ctx.report(metrics=metrics, tags=self.final_tags(policy))
        return metrics

    def final_metrics(self, dev: ScoreSet, test: ScoreSet, routing: dict, policy: str) -> dict[str, float]:
        """Test metrics at the policy's threshold, the selected dev scores, per-level metrics, the mean step time,
        the selected step and the test routing."""
        tau = select_threshold(policy, dev=dev, test=test, fixed=self.cfg.eval.fixed_threshold,
                               placement=self.cfg.eval.threshold_placement)
        metrics = split_metrics(test, self.protocol, tau, self.cfg.eval)
        # logged at the last step, where the curve already holds the last weights' dev scores: other names
        dev_tau = select_threshold("dev_eer", dev=dev, test=None, placement=self.cfg.eval.threshold_placement)
        metrics.update(selected_scores(split_metrics(dev, self.protocol, dev_tau, self.cfg.eval)))
        # with videos, the test metrics per frame and per video as well (frame_/video_ keys; headline keys unchanged)
        metrics.update(both_levels(self.protocol, (self.rows.dev, dev.scores), (self.rows.test, test.scores), policy,
                                   self.cfg.eval))
        selected = self.state.best_step if self.cfg.train.select == "best_dev" else self.state.step
        if self.state.history.get("timed_steps"):  # the run's mean step time: a search objective (cost)
            metrics[final_key(metric_key("train", self.protocol, "step_seconds"))] = (
                self.state.history["train_seconds"] / self.state.history["timed_steps"])
        metrics.update({metric_key("test", self.protocol, "selected_step"): float(selected),
                        "step": float(self.state.step), "final": 1.0})
        summary = {**routing_metrics(routing, self.rows.test), **routing_summary(routing, self.rows.test)}
        metrics.update({metric_key("test", self.protocol, k): v for k, v in summary.items()})
        return metrics

    def save_score_files(self, dev: ScoreSet, test: ScoreSet, routing: dict) -> None:
        """The per-sample scores, and the routing shares by attack type and device (MoE models), as artifacts."""
        self.ctx.save_artifact(self.write_scores(dev, test))
        if routing:
            path = os.path.join(self.workdir, "routing.csv")
            routing_breakdown(routing, self.rows.test).to_csv(path, index=False)
            self.ctx.save_artifact(path)

    def final_tags(self, policy: str) -> dict[str, str]:
        tags = {"pad.threshold_policy": policy}
        if self.rows.skipped:  # data.on_corrupt=skip: say on the run how many files it trained without
            tags["pad.data.corrupt_skipped"] = f"{len(self.rows.skipped)}: {', '.join(self.rows.skipped[:5])}"
        if self.rows.notes:  # data findings let through (data.allow_* overrides, rows without a subject)
            tags["pad.data.notes"] = "; ".join(self.rows.notes)[:4000]
        return tags

    def write_scores(self, *score_sets) -> str:
        import pandas as pd

        parts = []
        for s in score_sets:
            rows = self.rows.split(s.split)
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
