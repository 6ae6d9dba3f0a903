"""Checkpoint layout: every rank's RNG streams, the best weights as their own file, old checkpoints still load."""

import os
import random
import socket
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from pad_core.engine import checkpoint
from pad_core.engine import distributed as dist
from pad_core.engine.seed import rng_state, seed_everything, seed_rank_streams


def _parts():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    return model, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 1)


def _draws() -> list[float]:
    """What masks, dropout and augmentation draw from: torch, python and numpy streams."""
    return [*torch.rand(3).tolist(), random.random(), float(np.random.rand())]


def _rank(rank: int, world: int, port: int, folder: str, out: dict) -> None:
    torch_dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        seed_everything(0, rank)
        seed_rank_streams(0, rank)
        _draws()
        model, optimizer, scheduler = _parts()  # before the state is taken: building a model draws weights
        rng = dist.gather_objects(rng_state())
        if rank == 0:
            checkpoint.save(folder, model, optimizer, scheduler, checkpoint.TrainState(step=3), rng)
        torch_dist.barrier()
        original = _draws()
        torch.manual_seed(12345), random.seed(12345), np.random.seed(12345)  # a restarted process: other streams
        parts = _parts()
        checkpoint.load(folder, *parts, rank=rank, world=world)
        out[rank] = (original, _draws(), dist.any_rank(rank == 1))  # a stop on one rank stops every rank
    finally:
        torch_dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_each_rank_resumes_its_own_rng_streams(tmp_path):
    """Two gloo ranks save, draw on, then restore: each redraws exactly its own draws, and the ranks differ
    (before, only rank 0's CPU stream was saved and every rank resumed with it)."""
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_rank, args=(2, _free_port(), str(tmp_path / "ckpt"), out), nprocs=2, join=True)
        results = dict(out)
    for rank in (0, 1):
        original, redrawn, stop = results[rank]
        assert redrawn == original and stop, rank
    assert results[0][0] != results[1][0]


def test_best_weights_are_their_own_file_and_old_checkpoints_still_load(tmp_path):
    model, optimizer, scheduler = _parts()
    best = checkpoint.cpu_weights(model)
    state = checkpoint.TrainState(step=6, best_step=3, best_metric=0.1, best_weights=best)
    checkpoint.save(str(tmp_path / "a"), model, optimizer, scheduler, state, [rng_state()], best)
    checkpoint.save(str(tmp_path / "b"), model, optimizer, scheduler, state, [rng_state()])  # best unchanged
    assert torch.load(tmp_path / "a" / "state.pt", weights_only=False)["state"].best_weights is None
    assert not (tmp_path / "b" / checkpoint.BEST_FILE).exists()
    resumed = checkpoint.load(str(tmp_path / "b"), *_parts(), best_file=str(tmp_path / "a" / checkpoint.BEST_FILE))
    assert resumed.best_step == 3 and all(torch.equal(best[k], resumed.best_weights[k]) for k in best)
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoint=.*best-dev weights \(step 3\).* Fix: "):
        checkpoint.load(str(tmp_path / "b"), *_parts())

    os.makedirs(tmp_path / "old")  # the previous layout: one CPU RNG state, best weights inside the state
    torch.manual_seed(7)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "state": replace(state), "rng": torch.get_rng_state()}, tmp_path / "old" / checkpoint.STATE_FILE)
    expected = torch.rand(2)
    old = checkpoint.load(str(tmp_path / "old"), *_parts())
    assert torch.equal(torch.rand(2), expected) and old.best_weights.keys() == best.keys()


def test_a_checkpoint_of_another_world_size_reseeds_each_rank_distinctly(tmp_path, capsys):
    model, optimizer, scheduler = _parts()
    checkpoint.save(str(tmp_path), model, optimizer, scheduler, checkpoint.TrainState(step=4), [rng_state()])
    draws = []
    for rank in (0, 1):
        checkpoint.load(str(tmp_path), *_parts(), rank=rank, world=2)
        draws.append(torch.rand(3))
    assert not torch.equal(draws[0], draws[1])
    assert "holds RNG state for 1 ranks, resumed on 2: ranks reseeded deterministically" in capsys.readouterr().out
