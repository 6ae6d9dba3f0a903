"""Screen-flash sequences for ATR-FAS: frame selection, differential normalisation, depth targets (METHODS.md §5).

A manifest row is one flash sequence: column ``path`` holds a PNG strip of F >= n0 frames stacked vertically (each
side x side RGB, ordered by flash intensity; F = strip height / width, so a capture of any length fits; the
synthetic benchmark writes F = 8, the importer the frames it kept, in an optional column ``frames``),
``path_depth`` a greyscale depth map in [0, 1] for bona fide
rows (empty for attacks). DN runs on linear intensities scaled to [0, 1] (uint8 / 255) and keeps the sign of
the differences, so X in [-1, 1] (METHODS.md §5(a).3; our choice); no mean/std normalisation happens before it.

Legend: n0 captured frames used, n frames after DN, c channels, S frame side, s = S / 4 depth side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from pad_core.config.schema import RunCfg
from pad_core.data.files import FileSource
from pad_core.data.images import decode
from pad_core.errors import DataError

MIN_FRAMES = 3  # the fewest frames differential normalisation works on (n0 >= 3: two extremes and a middle one)
ATTACK_INDEX = {"print": 0, "replay": 1, "mask3d": 2, "mask": 2}  # type-gate target; bona fide -> -1
SPOOF_DEPTH = 0.5  # constant depth label of attacks (paper: spoof depth set to 0.5)


def dn_matrix(n0: int) -> torch.Tensor:
    """D (2(n0-2) x n0) by the paper's block form [[1, -I, 0], [0, I, -1]]: rows 1..n0-2 are frame 1 minus
    frame k+1, rows n0-1..n are frame k+1 minus frame n0 (the extreme-intensity frames minus the middle ones).

    Built from the blocks, not from the paper's written last row, which has a typo (METHODS.md §5(a).3).
    """
    mid = torch.eye(n0 - 2)
    ones, zeros = torch.ones(n0 - 2, 1), torch.zeros(n0 - 2, 1)
    return torch.cat([torch.cat([ones, -mid, zeros], 1), torch.cat([zeros, mid, -ones], 1)], 0)


def consecutive_matrix(n0: int) -> torch.Tensor:
    """Aurora Guard's differences (ATR-FAS Table 4): row k is frame k+1 minus frame k, (n0-1) x n0."""
    return torch.eye(n0).diff(dim=0)


def identity_matrix(n0: int) -> torch.Tensor:
    """DN off: the raw frames."""
    return torch.eye(n0)


DN_MATRICES = {"dn": dn_matrix, "consecutive": consecutive_matrix, "off": identity_matrix}


def frame_count(n0: int, mode: str) -> int:
    """n, the frames the model sees: 2(n0-2) for dn, n0-1 for consecutive, n0 for off."""
    return DN_MATRICES[mode](n0).shape[0]


def differential_normalize(frames: torch.Tensor, mode: str) -> torch.Tensor:
    """X = D X0 over the frame axis: ``... n0 c h w`` -> ``... n c h w``. Any term equal in all frames (the
    ambient light, under the Lambertian model) cancels, since every row of D sums to 0 (except for "off")."""
    d = DN_MATRICES[mode](frames.shape[-4]).to(frames)
    return torch.einsum("nm,...mchw->...nchw", d, frames)


def frame_choice(recorded: int, n0: int) -> np.ndarray:
    """Which n0 of ``recorded`` frames a sequence uses: evenly spaced by intensity rank, always both extremes
    (round(linspace(0, F - 1, n0)), distinct for n0 <= F); deterministic, so every epoch and run sees the same."""
    if recorded < n0:
        raise ValueError(f"{recorded} frames, {n0} needed")
    return np.round(np.linspace(0, recorded - 1, n0)).astype(int)


def select_frames(frames: torch.Tensor, n0: int) -> torch.Tensor:
    """n0 of the recorded frames (first axis), chosen by :func:`frame_choice`."""
    return frames[torch.from_numpy(frame_choice(frames.shape[0], n0))]


def strip_frames(strip: np.ndarray, path: str, n0: int) -> torch.Tensor:
    """A vertical strip (F*S x S x 3) -> F 3 S S frames; refuses a strip that is not whole square frames or that
    holds fewer than n0 of them, naming the file."""
    height, side = strip.shape[:2]
    if height % side:
        raise DataError("path", path, f"a flash strip of {height}x{side} pixels is not a stack of square frames",
                        "write F frames of S x S pixels stacked vertically (F*S x S), as the flash importer does")
    if height // side < n0:
        raise DataError("atr.n0", n0, f"{path} holds {height // side} flash frames, fewer than n0",
                        f"use atr.n0 <= {height // side}, or leave such captures out of the manifest")
    return torch.from_numpy(strip).view(height // side, side, side, 3).permute(0, 3, 1, 2)


def check_frame_counts(frame: pd.DataFrame, n0: int) -> None:
    """Before any trial: every row whose ``frames`` column (written by the flash importer) is below n0 is refused,
    with its paths. Manifests without the column are checked per strip when it is read (:func:`strip_frames`)."""
    if "frames" not in frame.columns:
        return
    counts = pd.to_numeric(frame["frames"], errors="coerce")
    short = frame.loc[~(counts >= n0), "path"].astype(str).tolist()
    if short:
        raise DataError("atr.n0", n0, f"{len(short)} flash sequences have fewer frames than n0 (column frames), "
                        f"e.g. {short[:5]}", f"use atr.n0 <= {int(counts.min()) if counts.notna().any() else 3}, "
                        "or leave those captures out of the manifest")


def depth_bins_of(depth: torch.Tensor, bins: int) -> torch.Tensor:
    """Depth in [0, 1] -> bin index round((bins - 1) * depth) (METHODS.md §5(c); our choice)."""
    return torch.round((bins - 1) * depth.clamp(0, 1)).long()


def attack_indices(frame: pd.DataFrame) -> np.ndarray:
    """Type-gate target per row: ATTACK_INDEX for attacks, -1 for bona fide rows."""
    species = frame["attack_type"].astype(str)
    unknown = sorted(set(species[(frame["label"] == 0) & ~species.isin(list(ATTACK_INDEX))]))
    if unknown:
        raise DataError("attack_type", unknown, "attack types the ATR-FAS type gate has no expert for",
                        f"use {sorted(ATTACK_INDEX)} (print, replay, 3D mask)")
    return np.where(frame["label"].to_numpy() == 1, -1, species.map(ATTACK_INDEX).fillna(-1).to_numpy()).astype(int)


def _depth_paths(frame: pd.DataFrame) -> list[str]:
    if "path_depth" not in frame.columns:
        raise DataError("data.manifest", list(frame.columns), "no path_depth column (ATR-FAS depth labels)",
                        "add path_depth: a greyscale depth PNG per bona fide row, empty for attacks")
    paths = frame["path_depth"].fillna("").astype(str).to_numpy()
    missing = np.flatnonzero((frame["label"].to_numpy() == 1) & (paths == ""))
    if len(missing):
        raise DataError("path_depth", "", f"bona fide rows without a depth map, e.g. rows {missing[:5].tolist()}",
                        "give every bona fide row a depth PNG (attacks use the constant 0.5)")
    return paths.tolist()


def _read(source: FileSource, path: str, mode: str) -> np.ndarray:
    return decode(source.read(path), path, mode)  # 16-bit depth maps scaled by their bit depth, not clipped


class FlashSequences(Dataset):
    """Items ``({"frames": n 3 S S}, {"label", "depth": s s bins, "attack_index"}, row index)``.

    ``__getitem__`` takes ``index`` or ``(index, aug_seed)``; with a seed and ``augment``, one horizontal flip
    (p = 0.5) applies to all frames and the depth map. No colour jitter: it would alter the flash colours.
    """

    def __init__(self, frame: pd.DataFrame, fs, root: str, *, image_size: int, n0: int, dn: str, depth_bins: int,
                 augment: bool) -> None:
        self.paths = [f"{root}/{p}" for p in frame["path"]]
        self.depth_paths = [f"{root}/{p}" if p else "" for p in _depth_paths(frame)]
        self.labels = frame["label"].to_numpy().astype(int)
        self.attack = attack_indices(frame)
        check_frame_counts(frame, n0)
        # a fork-safe description of the filesystem (pad_core.data.files), never the parent's instance
        self.source = FileSource.of(fs)
        self.size, self.n0, self.dn, self.bins, self.augment = image_size, n0, dn, depth_bins, augment

    def __len__(self) -> int:
        return len(self.paths)

    def frames(self, i: int) -> torch.Tensor:
        """The n0 selected raw frames, n0 3 S S in [0, 1] (bilinear resizing is linear, so DN still cancels)."""
        frames = select_frames(strip_frames(_read(self.source, self.paths[i], "RGB"), self.paths[i], self.n0), self.n0)
        side = frames.shape[-1]
        if side != self.size:
            frames = F.interpolate(frames, size=(self.size,) * 2, mode="bilinear", align_corners=False, antialias=True)
        return frames

    def depth(self, i: int) -> torch.Tensor:
        """s s bin indices: the live depth map resized to S / 4, or the constant 0.5 for attacks."""
        side = self.size // 4
        if self.labels[i] == 0:
            return depth_bins_of(torch.full((side, side), SPOOF_DEPTH), self.bins)
        d = torch.from_numpy(_read(self.source, self.depth_paths[i], "L"))[None, None]
        d = F.interpolate(d, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        return depth_bins_of(d[0, 0], self.bins)

    def flips(self, aug_seed: int | None) -> bool:
        """One draw per sample, so every frame and the depth map flip together (FLIP's p = 0.5)."""
        if not self.augment or aug_seed is None:
            return False
        return bool(torch.rand(1, generator=torch.Generator().manual_seed(int(aug_seed))) < 0.5)

    def __getitem__(self, item) -> tuple[dict, dict, int]:
        i, aug_seed = item if isinstance(item, tuple) else (item, None)
        frames, depth = self.frames(i), self.depth(i)
        if self.flips(aug_seed):
            frames, depth = frames.flip(-1), depth.flip(-1)
        targets = {"label": int(self.labels[i]), "depth": depth, "attack_index": int(self.attack[i])}
        return {"frames": differential_normalize(frames, self.dn)}, targets, i


def make_flash_dataset(cfg: RunCfg, frame: pd.DataFrame, fs, root: str, *, split: str, protocol, mean,
                       std) -> Dataset:
    """The ATR-FAS dataset of one split (the common dataset-factory signature).

    ``mean`` / ``std`` are accepted and deliberately unused: DN cancels the ambient term only on linear
    intensities, and frames stay in [0, 1] before differencing (a per-channel affine normalisation would only
    rescale the differences, and would shift the raw frames of ``dn=off``). ``protocol`` is unused: flash
    protocols remove nothing at test time.
    """
    a = cfg.atr
    return FlashSequences(frame, fs, root, image_size=a.image_size, n0=a.n0, dn=a.dn, depth_bins=a.depth_bins,
                          augment=cfg.data.augment and split == "train")
