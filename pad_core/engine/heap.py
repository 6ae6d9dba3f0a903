"""CPU training: let glibc's heap keep the memory a training step frees, instead of returning it every step.

glibc serves every allocation above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and unmaps it on
free. MMoE at ViT-B/16 stacks each block's expert weights into 37.7 MB tensors, so every step their new
gradients and Adam's temporaries are fresh mappings, page-faulted and zeroed by the kernel. That made an MMoE
step 1.13x its FLOP ratio to vanilla CLIP even with fused Adam; with the heap kept, 1.01 (docs/BENCHMARKS.md §2).
The cost: the process keeps its peak memory, which a training process reaches every step anyway. A process that
trains one run after another (Tune reuses trial processes) gives the free heap back when a run starts
(``release_freed_memory``): without it a ViT-B/16 CLIP run left ~6 GB the next MMoE run could not reuse, and the
CPU rehearsal's second cell reached 19 GB instead of 13. CUDA memory has its own caching allocator and is not
affected.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)
INT_MAX = 2**31 - 1  # mallopt takes an int: free top-of-heap memory beyond 2 GiB is still given back


@functools.cache  # process-wide and idempotent: once per process, however many runs it trains
def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed memory for the next step (glibc only; else a no-op).
    Returns whether the setting took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already has loaded
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, INT_MAX))


def release_freed_memory() -> None:
    """Collect unreachable objects (a finished run's model, optimiser and loaders sit in reference cycles), then
    give every free heap page back to the OS (glibc ``malloc_trim``; elsewhere a no-op)."""
    gc.collect()
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return
