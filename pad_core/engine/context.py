"""What the engine is told by its caller: where it runs and the hooks its results go through.

Everything framework-specific arrives here: how the model is wrapped (DDP), where reports and checkpoints go
(Ray Train, Tune), where artifacts land (MLflow). The defaults run on one process and keep nothing, as the tests
and ``python -m pad_core train`` do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch


class Report(Protocol):
    """The hook every result goes through, keyword-only so that a result cannot land in the wrong slot.

    The engine calls it after each evaluation with ``metrics`` and ``checkpoint_dir`` (the folder of the
    checkpoint holding that step, None when ``train.checkpoint_minutes`` skipped it or on ranks other than 0),
    and once at the end with the final ``metrics`` (``final`` = 1.0) and the run's ``tags``. The hook owns
    ``checkpoint_dir`` from then on: it may move or upload it; the engine removes it at the next checkpoint.
    """

    def __call__(self, *, metrics: dict[str, float], checkpoint_dir: str | None = None,
                 tags: dict[str, str] | None = None) -> None: ...


def report_nothing(*, metrics: dict[str, float], checkpoint_dir: str | None = None,
                   tags: dict[str, str] | None = None) -> None:
    """The default hook: a local run returns its final metrics and reports nowhere."""


def nothing_in_flight() -> None:
    """The default settle hook: a local run hands no checkpoint over, so none is ever in flight."""


def identity(model: torch.nn.Module) -> torch.nn.Module:
    """The default model wrapper: one process, no DDP."""
    return model


def keep_no_artifact(path: str) -> None:
    """The default artifact hook: the file stays in the run's scratch folder (removed with it)."""


@dataclass(frozen=True)
class RunContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device | str = "cpu"
    prepare_model: Callable[[torch.nn.Module], torch.nn.Module] = identity  # e.g. DDP wrapping
    report: Report = report_nothing  # every evaluation and the final result
    # called on rank 0 before it writes a checkpoint: blocks until the one handed to ``report`` last is persisted,
    # so a node holds one staged checkpoint per run (~6 GB for a ViT-B/16 MoE), not two
    settle: Callable[[], None] = nothing_in_flight
    save_artifact: Callable[[str], None] = keep_no_artifact  # rank 0 files for the run record
    resume_dir: str | None = None  # checkpoint directory to resume from
    images_verified: bool = False  # the sweep's preflight decoded every image already (data.on_corrupt=fail)
    workdir: str = ""  # scratch for checkpoints and score files; "" = a temporary folder removed when fit ends
    best_file: str = ""  # the newest best-dev weights file, when resume_dir does not hold it (checkpoint.BEST_FILE)
