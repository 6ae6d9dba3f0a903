"""Pretrained weights cached under ``$PADSWEEP_CACHE/pretrained``, one file per pretraining config (its key), built
once: under a file lock, written to a temporary file and renamed into place, so two processes asking at the same
time build it once and nobody ever reads a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from filelock import FileLock

from pad_core.pretrain.spec import PretrainSpec


@dataclass(frozen=True)
class Weights:
    path: Path  # an open_clip state dict (torch.save), loadable with --pretrained PATH
    built: bool  # this call trained it (False: it was in the cache)


def cache_root() -> Path:
    return Path(os.environ.get("PADSWEEP_CACHE", Path.home() / ".cache" / "padsweep")) / "pretrained"


def weights_path(spec: PretrainSpec) -> Path:
    return cache_root() / f"{spec.model}-{spec.key()}.pt"


def pretrained_weights(spec: PretrainSpec, log=print) -> Weights:
    """The weights file of ``spec``, pretraining it first if no process has yet."""
    path = weights_path(spec)
    if path.is_file():
        return Weights(path, built=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.is_file():  # another process built it while this one waited for the lock
            return Weights(path, built=False)
        from pad_core.pretrain.contrastive import pretrain  # torch training code: only when building

        log(f"[padsweep] pretraining {spec.model} on the captioned-shapes corpus ({spec.steps} steps, batch "
            f"{spec.batch_size}, lr {spec.lr:g}, seed {spec.seed}) -> {path}")
        result = pretrain(spec, log)
        _write_atomically(path, lambda tmp: torch.save(result.state, tmp))
        record = {"spec": asdict(spec), "key": spec.key(), "seconds": round(result.seconds, 1),
                  "cpu_seconds": round(result.cpu_seconds, 1),
                  "final_loss": round(result.final_loss, 4), "heldout_retrieval_top1": result.retrieval,
                  "chance": 1 / spec.batch_size}
        _write_atomically(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1)))
        log(f"[padsweep] pretrained in {result.seconds:.0f} s ({result.cpu_seconds:.0f} CPU-s): loss "
            f"{result.final_loss:.3f}, held-out image->text top-1 {result.retrieval:.2f} "
            f"(chance {1 / spec.batch_size:.3f})")
    return Weights(path, built=True)


def _write_atomically(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
