"""MMoE's dispatch mask with an exact number of zeros per expert, resampled per sample.

methods.md §2(a)/(f)-3: for expert i, exactly round(r_i * n * s) of the n x s dispatch weights are zeroed,
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
    counts = torch.tensor(zero_counts(rates, n, s), device=device)
    order = torch.rand(batch, e, block, device=device, generator=generator).argsort(dim=-1)
    keep_by_rank = (torch.arange(block, device=device)[None, :] >= counts[:, None]).float()  # e block
    mask = torch.empty(batch, e, block, device=device)
    mask.scatter_(-1, order, keep_by_rank.expand(batch, e, block))  # the first count[i] ranks are zeroed
    return mask.view(batch, e, n, s).permute(0, 2, 1, 3)
