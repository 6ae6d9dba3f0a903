"""DataLoader settings shared by training and evaluation, and evaluation loaders kept alive across evaluations.

Worker processes are forked once and kept (``persistent_workers``): an evaluation every few hundred steps
would otherwise fork ``data.num_workers`` processes and rebuild their state each time. Pinned host memory
only helps copies to a GPU, so it is used on CUDA devices only.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

PREFETCH_BATCHES = 4  # batches each worker keeps ready: covers S3 latency spikes without much host memory

_EVAL_LOADERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # dataset -> {key: loader}


def loader_options(num_workers: int, device: Any) -> dict[str, Any]:
    """Keyword arguments for ``DataLoader`` beyond the data, sampler and generator."""
    opts: dict[str, Any] = {"num_workers": num_workers, "pin_memory": torch.device(device).type == "cuda"}
    if num_workers > 0:
        opts.update(persistent_workers=True, prefetch_factor=PREFETCH_BATCHES)
    return opts


def eval_loader(dataset: Dataset, indices: list[int], *, batch_size: int, num_workers: int, device: Any) -> DataLoader:
    """A loader over ``dataset[indices]`` in order, the same object on every call with the same arguments.

    Its private generator leaves the global RNG (MoE masks) untouched, as a fresh loader's would. Kept per
    dataset (weakly), so the workers end with the run that owns the dataset."""
    key = (hash(tuple(indices)), len(indices), batch_size, num_workers, str(torch.device(device)))
    per_dataset = _EVAL_LOADERS.setdefault(dataset, {})
    if key not in per_dataset:
        per_dataset[key] = DataLoader(Subset(dataset, indices), batch_size=batch_size, generator=torch.Generator(),
                                      **loader_options(num_workers, device))
    return per_dataset[key]
