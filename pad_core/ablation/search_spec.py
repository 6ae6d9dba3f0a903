"""A hyperparameter search as a declaration: base config, define-by-run space, the protocol it runs in, objective,
and its sizes. ``pad_core.integrations.search.run_search`` runs it (Optuna TPE + early stopping on Ray Tune, then
the top-k confirmed on fresh seeds); this module imports neither, so a sweep file declares a search without them.

A sweep file declares one ``SearchSpec`` (or a registry of them: search_spaces/hpo.py) and hands ``for_args`` (or a
function ending in it) to ``sweep_main``: the same resolution as an ablation's (``pad_core.ablation.declare``),
with the search's sizes (:data:`SMOKE_SEARCH` under --smoke-test, else the declared ones) and the learning-rate
range of the scale (:class:`LrRange`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pad_core.ablation.declare import base_for, for_scale, given, search_protocol
from pad_core.errors import SweepError
from pad_core.sweep_args import SweepArgs

COST_METRICS = frozenset({"step_seconds"})  # train-side costs a search may trade off (train/<protocol>/<metric>)
SCHEDULER_NAMES = ("asha", "sha")  # early stopping: asynchronous, synchronous successive halving (search.SCHEDULERS)


@dataclass(frozen=True)
class SearchSizes:
    """How big a search is: configurations tried, how many are confirmed, on which fresh seeds."""

    num_samples: int
    top_k: int
    confirm_seeds: tuple[int, ...]


FULL_SEARCH = SearchSizes(num_samples=16, top_k=2, confirm_seeds=(100, 101))  # the demo and paper scales' default
SMOKE_SEARCH = SearchSizes(num_samples=4, top_k=1, confirm_seeds=(100,))  # --smoke-test: seconds per trial, CI


@dataclass(frozen=True)
class LrRange:
    """The learning-rate range a space draws from (log scale), per scale."""

    paper: tuple[float, float] = (3e-7, 3e-5)  # the paper scales: pretrained ViT-B/16 CLIP fine-tuning
    # demo: around the demo's fine-tuning lr 3e-4 (1e-3 already overwrites the pretrained tiny backbone; scales.py)
    demo: tuple[float, float] = (1e-4, 1e-3)

    def for_scale(self, scale: str) -> tuple[float, float]:
        from pad_core.config import is_paper_scale

        return self.paper if is_paper_scale(scale) else self.demo


@dataclass(frozen=True)
class SearchSpec:
    name: str = ""  # sweep id; for_args: the command line's sweep name + ``suffix``
    title: str = ""  # caption of the confirmation table
    base: dict[str, Any] = field(default_factory=dict)  # flat config the search starts from
    space: Callable | None = None  # define-by-run function of an Optuna trial (see search_spaces/)
    protocol: str = "P1"  # the cell searched in (for_args: --search-protocol or --protocols may name another)
    metric: str = "eer"  # dev metric to minimise/maximise (dev/<protocol>/<metric>)
    mode: str = "min"
    num_samples: int = FULL_SEARCH.num_samples  # configurations tried
    search_seed: int = 0  # training seed of every search trial
    sampler_seed: int = 0  # TPE seed
    grace_period: int = 1  # reports (evaluations) before a trial can be stopped
    reduction_factor: int = 2  # each rung keeps 1/rf of the trials
    scheduler: str = "asha"  # early stopping: asha (asynchronous) | sha (synchronous successive halving)
    top_k: int = FULL_SEARCH.top_k  # configurations confirmed
    confirm_seeds: tuple[int, ...] = FULL_SEARCH.confirm_seeds  # fresh seeds for the confirmation
    points_to_evaluate: list[dict] = field(default_factory=list)  # known-good starting points
    also: tuple[tuple[str, str], ...] = ()  # further objectives (metric, mode): multi-objective TPE, Pareto top-k
    rows: tuple[str, ...] = ()  # the sweep's ablation rows: a space drawing them is refused
    lr: LrRange | None = None  # the space takes ``lr_range=``: for_args binds the scale's (None: it takes none)
    suffix: str = "-search"  # for_args: appended to the sweep name (a file's search records apart from its grid)

    def for_args(self, args: SweepArgs) -> SearchSpec:
        """This declaration for parsed command-line ``args``: named, --set over the base, the protocol, the sizes
        of the scale unless a flag gives them, and the space bound to the scale's learning-rate range."""
        base = base_for(self.base, args)
        sizes = for_scale(args, smoke=SMOKE_SEARCH, paper=self.sizes, demo=self.sizes)
        space = functools.partial(self.space, lr_range=self.lr.for_scale(args.scale)) if self.lr else self.space
        return replace(self, name=args.name + self.suffix, base=base, space=space, lr=None,
                       protocol=search_protocol(args, self.protocol, base),
                       num_samples=given(args.num_samples, sizes.num_samples), top_k=given(args.top_k, sizes.top_k),
                       confirm_seeds=given(args.confirm_seeds, sizes.confirm_seeds))

    @property
    def sizes(self) -> SearchSizes:
        return SearchSizes(self.num_samples, self.top_k, self.confirm_seeds)

    @property
    def objective(self) -> str:
        return objective_key(self.protocol, self.metric)

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """(metric key, mode) of every objective; the first drives ASHA."""
        return [(self.objective, self.mode)] + [(objective_key(self.protocol, m), mode) for m, mode in self.also]

    def validate(self) -> None:
        """Before anything runs: the objectives, the sizes, early stopping, and the space dry-sampled against the
        base (``search_checks.check_space``: Optuna, imported here, when a search is about to run)."""
        from pad_core.integrations.search_checks import check_space

        if self.space is None:
            raise SweepError("space", None, "a search needs a define-by-run space",
                             "declare space=<function of an Optuna trial> (search_spaces/)")
        for metric, mode in [(self.metric, self.mode), *self.also]:
            check_objective(metric, mode)
        if self.top_k > self.num_samples:
            raise SweepError("top_k", self.top_k, f"more than the {self.num_samples} samples", "lower --top-k")
        if self.scheduler not in SCHEDULER_NAMES:
            raise SweepError("--scheduler", self.scheduler, "unknown early-stopping scheduler",
                             f"use one of {sorted(SCHEDULER_NAMES)} (sha: synchronous halving, docs/BENCHMARKS.md §6)")
        if self.grace_period < 1 or self.reduction_factor < 2:
            raise SweepError("--grace-period/--reduction-factor", (self.grace_period, self.reduction_factor),
                             "early stopping needs a grace period of at least 1 report and a reduction factor "
                             "of at least 2",
                             "e.g. --grace-period 2 --reduction-factor 4 (docs/BENCHMARKS.md §6)")
        check_space(self.space, self.base, self.protocol, self.search_seed, self.rows)


def objective_key(protocol: str, metric: str) -> str:
    split = "train" if metric in COST_METRICS else "dev"
    return f"{split}/{protocol.lower()}/{metric}"


def check_objective(metric: str, mode: str) -> None:
    """Only dev metrics (and training cost) may steer a search: a test metric would leak the test set."""
    if "/" in metric or metric.startswith("test"):
        raise SweepError("search metric", metric, "a search may only read dev metrics (and step_seconds)",
                         "name a dev metric without its split, e.g. eer, auc or acer (read as dev/<protocol>/eer)")
    if mode not in ("min", "max"):
        raise SweepError("search mode", mode, "unknown mode", "use min or max")
