"""MMoE's dispatch mask with an exact number of zeros per expert, resampled per sample.

METHODS.md §2(a).5, §2(f).3: for expert i, exactly round(r_i * n * s) of the n x s dispatch weights are zeroed,
at uniformly random positions, independently per sample and per forward pass; no renormalisation.
"""

from __future__ import annotations

import math

import torch


def zero_counts(rates: tuple[float, ...], n: int, s: int) -> list[int]:
    """round-half-up(r * n * s) per expert (Python's round() would round half to even)."""
    return [int(math.floor(r * n * s + 0.5)) for r in rates]


def exact_count_mask(batch: int, n: int, s: int, rates: tuple[float, ...], *, device: torch.device | str = "cpu",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """A {0,1} mask ``b n e s`` whose block ``[b, :, i, :]`` has exactly ``zero_counts(rates)[i]`` zeros."""
    e, block = len(rates), n * s
    counts = zero_counts(rates, n, s)
    mask = torch.ones(batch, e, block, device=device)
    k = max(counts)
    if k:
        # The k smallest of i.i.d. uniforms sit at a uniformly random k-subset of positions; topk is a
        # partial sort, cheaper than argsort. Expert i zeroes the first counts[i] of them.
        idx = torch.rand(batch, e, block, device=device, generator=generator).topk(k, dim=-1, largest=False).indices
        keep = (torch.arange(k, device=device)[None, :] >= torch.tensor(counts, device=device)[:, None]).float()
        mask.scatter_(-1, idx, keep.expand(batch, e, k))
    return mask.view(batch, e, n, s).permute(0, 2, 1, 3)
