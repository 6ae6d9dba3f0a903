"""DataLoader settings shared by training and evaluation, and evaluation loaders kept alive across evaluations.

Worker processes are started once and kept (``persistent_workers``): an evaluation every few hundred steps
would otherwise start ``data.num_workers`` processes and rebuild their state each time. Pinned host memory
only helps copies to a GPU, so it is used on CUDA devices only.

Workers come from a fork server, not from forking the training process. A worker forked from the trainer shares
its pages copy-on-write, and every optimiser step then rewrites those pages in the parent, so each worker ends up
holding its own copy of everything the trainer held at the fork: the CPU rehearsal of a ViT-B/16 MMoE cell (7.5 GB
of weights, gradients and Adam state) with 2 train and 2 dev workers filled 23 GB and stalled in reclaim; on a GPU
node the same happens to the host-side best-weights copy and pinned buffers. A fork-server child starts from a
small process that has imported torch and the datasets once (the datasets pickle to paths and options).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import weakref
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

PREFETCH_BATCHES = 4  # batches each worker keeps ready: covers S3 latency spikes without much host memory
WORKER_START = "forkserver"  # see the module note; "fork" would copy the trainer's memory into every worker
# imported once by the fork server, so a worker starts in milliseconds instead of importing torch itself
FORKSERVER_PRELOAD = ["torch", "pad_core.data.dataset", "pad_core.data.flash", "pad_core.data.multimodal"]

# dataset -> {key: loader}. A loader holds its dataset, so an entry never dies on its own: the run that owns the
# datasets closes them (close_eval_loaders), which also ends their persistent workers.
_EVAL_LOADERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def loader_options(num_workers: int, device: Any) -> dict[str, Any]:
    """Keyword arguments for ``DataLoader`` beyond the data, sampler and generator."""
    opts: dict[str, Any] = {"num_workers": num_workers, "pin_memory": torch.device(device).type == "cuda"}
    if num_workers > 0:
        opts.update(persistent_workers=True, prefetch_factor=PREFETCH_BATCHES, multiprocessing_context=_context())
    return opts


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context(WORKER_START)
    context.set_forkserver_preload(FORKSERVER_PRELOAD)  # takes effect when the server starts (first use)
    return context


def eval_loader(dataset: Dataset, indices: list[int], *, batch_size: int, num_workers: int, device: Any) -> DataLoader:
    """A loader over ``dataset[indices]`` in order, the same object on every call with the same arguments.

    Its private generator leaves the global RNG (MoE masks) untouched, as a fresh loader's would. Kept per
    dataset until :func:`close_eval_loaders`."""
    key = (hash(tuple(indices)), len(indices), batch_size, num_workers, str(torch.device(device)))
    per_dataset = _EVAL_LOADERS.setdefault(dataset, {})
    if key not in per_dataset:
        per_dataset[key] = DataLoader(Subset(dataset, indices), batch_size=batch_size, generator=torch.Generator(),
                                      **loader_options(num_workers, device))
    return per_dataset[key]


def close_eval_loaders(*datasets: Dataset) -> int:
    """Forget the kept loaders of ``datasets`` and stop their worker processes; returns how many were closed."""
    closed = 0
    for dataset in datasets:
        for loader in _EVAL_LOADERS.pop(dataset, {}).values():
            iterator, loader._iterator = loader._iterator, None  # torch keeps a persistent loader's iterator here
            shutdown = getattr(iterator, "_shutdown_workers", None)
            if shutdown:
                shutdown()
            closed += 1
    return closed
