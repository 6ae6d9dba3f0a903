"""Images from a manifest, CLIP preprocessing, FLIP-style augmentation, and a step-indexed sampler.

The sampler is a pure function of (seed, rank, step): batch t of rank r is always the same, so a run
resumed from a checkpoint at step t sees exactly the batches it would have seen. Each sample carries
its own augmentation seed for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset, Sampler

from pad_core.data.files import FileSource
from pad_core.data.images import decode


class ManifestImages(Dataset):
    """Items ``(image b c h w float, label, row index)`` for the rows of ``frame``.

    ``__getitem__`` takes ``index`` or ``(index, aug_seed)``; augmentation runs only with a seed.
    """

    def __init__(self, frame: pd.DataFrame, fs, root: str, *, image_size: int, mean, std, augment: bool) -> None:
        self.paths = [f"{root}/{p}" for p in frame["path"]]
        self.labels = frame["label"].to_numpy()
        # a description, not the parent's filesystem instance: loader workers fork or unpickle this dataset
        self.source, self.image_size, self.augment = FileSource.of(fs), image_size, augment
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> torch.Tensor:
        # decode: 16-bit NIR/depth scaled by bit depth (not clipped to white); oversized or placeholder files refused
        x = torch.from_numpy(decode(self.source.read(self.paths[i]), self.paths[i])).permute(2, 0, 1)
        return clip_resize(x, self.image_size).clamp(0, 1)

    def __getitem__(self, item) -> tuple[torch.Tensor, int, int]:
        i, aug_seed = item if isinstance(item, tuple) else (item, None)
        x = self.load(i)
        if self.augment and aug_seed is not None:
            x = flip_and_saturate(x, torch.Generator().manual_seed(int(aug_seed)))
        return (x - self.mean) / self.std, int(self.labels[i]), i


def clip_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """CLIP's preprocessing of ``c h w``: shorter side to ``size`` (antialiased bicubic), then a centre square.

    Antialiasing low-passes before subsampling: without it, print half-tones and screen moire (the very cues
    PAD detects) fold into spurious low-frequency patterns. Keeping the aspect means a round iris stays round.
    Images already ``size`` square pass through untouched (the synthetic benchmarks are rendered at size).
    """
    h, w = x.shape[-2:]
    if h == size and w == size:
        return x
    # torchvision's Resize(int) rounding: the shorter side becomes exactly ``size``, the longer one truncates
    longer = int(size * max(h, w) / min(h, w))
    new_h, new_w = (size, longer) if h <= w else (longer, size)
    x = F.interpolate(x[None], size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True)[0]
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return x[..., top:top + size, left:left + size]


def flip_and_saturate(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """FLIP's training augmentation: horizontal flip (p=0.5), saturation x U(0.8, 1.2) (p=0.5)."""
    flip, jitter, factor = torch.rand(3, generator=gen)
    if flip < 0.5:
        x = x.flip(-1)
    if jitter < 0.5:
        gray = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
        x = (gray + (0.8 + 0.4 * float(factor)) * (x - gray)).clamp(0, 1)
    return x


def to_device(value, device):
    """Tensors, and dicts/tuples/lists of them, moved to ``device`` (batches of every model family)."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(to_device(v, device) for v in value)
    return value


def label_of(targets) -> torch.Tensor:
    """The bona fide (1) / attack (0) labels of a batch's targets (a tensor, or a dict with ``label``)."""
    return targets["label"] if isinstance(targets, dict) else targets


def _mix(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


class StepBatchSampler(Sampler):
    """Infinite batches of ``(index, aug_seed)``; batch t depends only on (seed, rank, t).

    ``balanced`` cycles over (subset, label) groups in a per-step random order and draws one random
    member each time (FLIP draws equally per source domain and class); ``shuffle`` draws uniformly.
    """

    def __init__(self, frame: pd.DataFrame, batch_size: int, *, seed: int, rank: int = 0, start_step: int = 0,
                 balanced: bool = True) -> None:
        keys = frame["subset"].astype(str) + "|" + frame["label"].astype(str) if balanced else pd.Series(0, frame.index)
        self.groups = [np.flatnonzero((keys == k).to_numpy()) for k in sorted(keys.unique())]
        self.batch_size, self.seed, self.rank, self.start_step = batch_size, seed, rank, start_step

    def batch(self, step: int) -> list[tuple[int, int]]:
        rng = np.random.default_rng(_mix(self.seed, self.rank, step))
        order = rng.permutation(len(self.groups))
        picks = [self.groups[order[j % len(order)]] for j in range(self.batch_size)]
        idx = [int(g[rng.integers(len(g))]) for g in picks]
        return [(i, _mix(self.seed, self.rank, step, j)) for j, i in enumerate(idx)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1

    def __len__(self) -> int:  # infinite; DataLoader only needs this for len(loader)
        return 2**31 - 1
