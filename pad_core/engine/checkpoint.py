"""Training state on disk: model, optimiser, schedule, step, RNG, and the best-dev weights."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

STATE_FILE = "state.pt"


@dataclass
class TrainState:
    step: int = 0
    best_metric: float = float("inf")  # dev EER of the best evaluation so far (lower is better)
    best_step: int = -1
    best_weights: dict[str, torch.Tensor] | None = None  # CPU copy, for train.select=best_dev
    history: dict[str, Any] = field(default_factory=dict)


def save(directory: str, model, optimizer, scheduler, state: TrainState) -> str:
    os.makedirs(directory, exist_ok=True)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "state": state, "rng": torch.get_rng_state()}, os.path.join(directory, STATE_FILE))
    return directory


def load(directory: str, model, optimizer, scheduler) -> TrainState:
    blob = torch.load(os.path.join(directory, STATE_FILE), map_location="cpu", weights_only=False)
    model.load_state_dict(blob["model"])
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"])
    return blob["state"]


def cpu_weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
