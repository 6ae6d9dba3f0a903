"""Training state on disk. A checkpoint folder holds:

- ``state.pt``: what a resume needs (model, optimiser, schedule, ``TrainState`` without the best weights, and
  every rank's RNG streams, gathered to rank 0);
- ``best.pt``: the best-dev weights, only in the checkpoint written after they changed (a ViT-B/16 MMoE copy is
  ~0.6 GB; writing it at every evaluation doubled the model's share of the checkpoint for nothing);
- ``meta.json``: step, best step and world size, readable without loading the state.

The caller keeps the newest ``best.pt`` available for a resume (``CellCheckpoints`` under a stable name; the
Ray Train path keeps the checkpoint holding it) and passes it as ``best_file`` when the folder lacks it.
Old checkpoints (one ``rng``, best weights inside ``TrainState``) still load.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from pad_core.engine.checkpoint_files import BEST_FILE, META_FILE, STATE_FILE  # torch-free: --plan reads them
from pad_core.engine.seed import reseed_resumed, restore_rng


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed as it is (a plain error: Ray pickles it)."""


@dataclass
class TrainState:
    step: int = 0
    best_metric: float = float("inf")  # dev EER of the best evaluation so far (lower is better)
    best_step: int = -1
    best_weights: dict[str, torch.Tensor] | None = None  # CPU copy in memory; on disk it is BEST_FILE
    history: dict[str, Any] = field(default_factory=dict)


def save(directory: str, model, optimizer, scheduler, state: TrainState, rng_ranks: list[dict[str, Any]],
         best: dict[str, torch.Tensor] | None = None) -> str:
    """Write the resumable state, and ``best`` (the best-dev weights) when given: only when they changed."""
    os.makedirs(directory, exist_ok=True)
    torch.save({"format": 2, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "state": replace(state, best_weights=None),
                "rng_ranks": rng_ranks}, os.path.join(directory, STATE_FILE))
    if best is not None:
        torch.save({"step": state.best_step, "weights": best}, os.path.join(directory, BEST_FILE))
    with open(os.path.join(directory, META_FILE), "w") as out:
        json.dump({"step": state.step, "best_step": state.best_step, "world_size": len(rng_ranks)}, out)
    return directory


def meta(directory: str) -> dict[str, int]:
    """Step, best step and world size of a checkpoint ({} for an old one)."""
    path = os.path.join(directory, META_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as src:
        return json.load(src)


def load(directory: str, model, optimizer, scheduler, *, rank: int = 0, world: int = 1,
         device: torch.device | str = "cpu", seed: int = 0, best_file: str = "") -> TrainState:
    blob = torch.load(os.path.join(directory, STATE_FILE), map_location="cpu", weights_only=False)
    model.load_state_dict(blob["model"])
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    state: TrainState = blob["state"]
    _restore_rng(blob, rank, world, device, seed, state.step)
    if state.best_weights is None and state.best_step >= 0:
        state.best_weights = _best_weights(directory, best_file, state.best_step)
    return state


def _restore_rng(blob: dict[str, Any], rank: int, world: int, device, seed: int, step: int) -> None:
    saved = blob.get("rng_ranks")
    if saved is not None and len(saved) == world:
        restore_rng(saved[rank], device)
    elif saved is None and rank == 0:
        torch.set_rng_state(blob["rng"])  # an old checkpoint: rank 0's CPU stream only
    else:
        # The cell identity leaves out the worker count, so a re-run with another --workers-per-trial resumes
        # this checkpoint: the data order changes anyway, so fresh per-rank streams are the honest choice.
        have = f"{len(saved)} ranks" if saved is not None else "rank 0 only (old checkpoint)"
        if rank == 0:
            print(f"[padsweep] checkpoint at step {step} holds RNG state for {have}, resumed on {world}: "
                  "ranks reseeded deterministically (the run is not bit-identical to an uninterrupted one)",
                  flush=True)
        reseed_resumed(seed, rank, step)


def _best_weights(directory: str, best_file: str, best_step: int) -> dict[str, torch.Tensor]:
    for path in (os.path.join(directory, BEST_FILE), best_file):
        if path and os.path.exists(path):
            best = torch.load(path, map_location="cpu", weights_only=False)
            if best["step"] == best_step:
                return best["weights"]
    raise CheckpointError(
        f"checkpoint={directory}: its best-dev weights (step {best_step}) are in neither {BEST_FILE} nor "
        f"{best_file or 'a separate best file'}. Fix: restore the best file from the checkpoint storage (it is "
        "kept next to the latest checkpoint), or delete the cell's checkpoints to train it from scratch")


def cpu_weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
