"""The typed values that cross a process boundary of a sweep, and what they are built from.

The command line builds ``SweepOptions`` (with the ``Resources`` each trial holds); the driver hands each Tune trial
its ``TrialPlan`` (through Tune's config), and each trial hands its training loop a ``LoopConfig`` (Ray Train's
``train_loop_config``, or the in-trial call). Each is a frozen dataclass that travels pickled as itself, so a
misspelt field is an ``AttributeError`` a type checker finds, not a ``KeyError`` in a remote worker.

This module imports no Ray, MLflow or torch: ``--help``, ``--plan`` and the refusals of the command line build these
values before any of those is needed (docs/BENCHMARKS.md §13).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

MAX_OUTAGE_S = 900.0  # default of --tracking-outage: how long a trial trains on while MLflow is unreachable


def exact(value: float) -> Fraction:
    """``value`` as the decimal it was written as (0.1 -> 1/10): float floors miscount shares (1.0 // 0.1 == 9.0)."""
    return Fraction(repr(float(value)))


@dataclass(frozen=True)
class Resources:
    workers: int = 1  # Ray Train workers (DDP ranks) per trial
    gpus_per_worker: float = 0.0  # GPUs each worker holds
    cpus_per_worker: float = 1.0  # CPUs each worker holds
    max_failures: int = 2  # worker-failure restarts per trial, each from the latest checkpoint
    in_trial: bool = True  # single-worker trials train inside the Tune trial (fast path); False = TorchTrainer

    @property
    def trains_in_trial(self) -> bool:
        return self.in_trial and self.workers == 1

    def trial_resources(self, driver_resource: str) -> dict[str, float]:
        """What the Tune trial holds: the worker's CPUs/GPU on the fast path, else one driver slot."""
        if self.trains_in_trial:
            return self.per_worker()
        return {"CPU": 0, driver_resource: 1}

    def per_worker(self) -> dict[str, float]:
        return {"CPU": self.cpus_per_worker, **({"GPU": self.gpus_per_worker} if self.gpus_per_worker else {})}

    def scaling(self):
        """Ray Train's ``ScalingConfig`` (imported here: only a trial that fits a TorchTrainer needs Ray Train)."""
        from ray.train import ScalingConfig

        return ScalingConfig(num_workers=self.workers, use_gpu=self.gpus_per_worker > 0,
                             resources_per_worker=self.per_worker())


@dataclass(frozen=True)
class SweepOptions:
    tracking_uri: str  # MLflow server
    experiment: str = "padsweep"  # MLflow experiment holding the sweep's runs
    storage_path: str = field(default_factory=lambda: os.path.expanduser("~/ray_results/padsweep"))
    resources: Resources = field(default_factory=Resources)
    max_concurrent: int = 0  # 0 = as many as the cluster fits
    ray_address: str | None = None  # None = $RAY_ADDRESS, else a local Ray instance
    allow_spec_change: bool = False  # go on although rows/seeds differ from what the sweep started with
    autoscaling: bool = False  # the cluster adds nodes on demand: do not require the resources to exist now
    trial_retries: int = 2  # Tune restarts of a failed trial driver; each resumes its own Train run
    reuse: bool = True  # link finished runs of the same cell identity from other sweeps instead of training
    tracking_outage_s: float = MAX_OUTAGE_S  # MLflow outage a trial rides out (reports queued), then fails
    keep_checkpoints: bool = False  # keep finished cells' checkpoints (--keep-checkpoints); failed ones always stay
    allow_data_change: bool = False  # go on although a manifest's content changed since the sweep started
    wait: bool = False  # another driver holds the sweep: wait for it (--wait) instead of refusing


@dataclass(frozen=True)
class TrialPlan:
    """Everything a trial needs, passed through Tune's config (``{"plan": TrialPlan}``; plain, picklable values)."""

    sweep: str
    stage: str  # ablation | search | confirm
    tracking_uri: str
    experiment: str
    parent_id: str
    storage_path: str
    resources: Resources
    flat: dict[str, Any] = field(default_factory=dict)  # full flat config (search params merged in by the driver)
    row: str = ""
    key: str = ""  # cell key; "" = keyed by the Tune trial id (search stage)
    run_name: str = ""
    axes: dict[str, str] = field(default_factory=dict)  # the row's delta, tagged on the run for filtering
    identity: str = ""  # cell identity (config hash, protocol, seed, code version, manifest hash); "" = search
    tracking_outage_s: float = MAX_OUTAGE_S  # how long a trial trains on while MLflow is unreachable (reports queued)
    keep_checkpoints: bool = False  # keep a finished cell's checkpoints (default: deleted once the cell finished)
    data_version: str = ""  # sha256 of the cell's data manifest (tag pad.data_version; tables refuse mixed ones)

    def to_config(self) -> dict[str, Any]:
        """The plan as Tune's ``param_space`` carries it: plain values (``asdict``). Tune puts any other object of a
        param space in the object store behind a placeholder that a ``Tuner.restore`` cannot resolve: a resumed search
        handed its trials the placeholder (a tuple) instead of the plan. :meth:`from_config` rebuilds it."""
        return asdict(self)

    @classmethod
    def from_config(cls, value: TrialPlan | dict[str, Any]) -> TrialPlan:
        """The plan a Tune trial's config holds, rebuilt at this one entry point and read by attribute from here on:
        its ``to_config`` dict (the form every padsweep version wrote, so state restored from older code reads too),
        or the dataclass itself (a direct call)."""
        if isinstance(value, cls):
            return value
        resources = value["resources"]
        return cls(**{**value, "resources": resources if isinstance(resources, Resources) else Resources(**resources)})

    def cell_key(self, trial_id: str) -> str:
        """The cell's key in MLflow: its own, or (a search trial) the stage and the Tune trial id."""
        return self.key or f"{self.stage}|{trial_id}"

    def run_label(self, trial_id: str) -> str:
        """What the trial is called in MLflow and in the driver's log: the cell's run name, else stage·trial id."""
        return self.run_name or f"{self.stage}·{trial_id}"


@dataclass(frozen=True)
class LoopConfig:
    """What the training loop of one cell gets from its trial (Ray Train's ``train_loop_config``, pickled to each
    worker, or the in-trial call)."""

    flat: dict[str, Any]  # the cell's full flat config (search draws merged in)
    tracking_uri: str
    run_id: str  # the cell's MLflow run
    storage_path: str  # Tune/Train storage: the cell's checkpoints live under it
    sweep: str
    key: str  # the cell's key (names its checkpoint folder)
    tracking_outage_s: float = MAX_OUTAGE_S
    gpus_per_worker: float = 0.0
    keep_checkpoints: bool = False  # keep the cell's checkpoints once it finished
    fresh_run: bool = False  # the MLflow run was created for this attempt: checkpoints of another run are not its own

    def train_loop_config(self) -> dict[str, LoopConfig]:
        """Ray Train's ``train_loop_config`` is typed ``Optional[Dict]`` (its state tracking validates it with
        pydantic), so the dataclass travels as the one value of a dict; :meth:`from_train_loop_config` unwraps it."""
        return {"loop": self}

    @classmethod
    def from_train_loop_config(cls, config: dict[str, LoopConfig]) -> LoopConfig:
        return config["loop"]
