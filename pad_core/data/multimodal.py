"""Three-modality samples (RGB, IR, Depth) for BIG-MoE, from manifest columns ``path``, ``path_ir``, ``path_depth``.

An item is ``({"modalities": m k h w, "missing": code}, label, row index)`` with the modalities in
:data:`~pad_core.config.family_schema.MODALITIES` order and bit i of ``code`` set when modality i is absent:
an empty manifest cell, a column the manifest lacks, or a modality the protocol removes at test time
(``test_missing``, the missing-modality protocols). An absent modality is all zeros *after* normalisation,
the value BIG-MoE's modality dropout writes in training, so train-time drops and test-time gaps look alike.

Legend: m modalities, k channels (3; IR and depth greyscale are replicated), h/w image side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pad_core.config.family_schema import MODALITIES
from pad_core.config.schema import RunCfg
from pad_core.data.dataset import ManifestImages, flip_and_saturate
from pad_core.errors import DataError

COLUMNS = {"rgb": "path", "ir": "path_ir", "depth": "path_depth"}  # manifest file column of each modality


class MultiModalImages(ManifestImages):
    """ManifestImages over m file columns. ``__getitem__`` takes ``index`` or ``(index, aug_seed)``
    (StepBatchSampler); augmentation runs only with a seed and flips all modalities together.

    ``missing`` names modalities removed from every row (the protocol's ``test_missing`` on the test split).
    """

    def __init__(self, frame: pd.DataFrame, fs, root: str, *, image_size: int, mean, std, augment: bool,
                 missing: tuple[str, ...] = ()) -> None:
        unknown = sorted(set(missing) - set(MODALITIES))
        if unknown:
            raise DataError("data.protocol", unknown, "test_missing names unknown modalities",
                            f"use names from {list(MODALITIES)} in the protocol's test_missing")
        super().__init__(frame, fs, root, image_size=image_size, mean=mean, std=std, augment=augment)
        self.rows = len(frame)
        cells = [_cells(frame, COLUMNS[m]) for m in MODALITIES]
        # Modality-major flat list, so the inherited ``load(j)`` reads file j = m * rows + i.
        self.paths = [f"{root}/{p}" if p else "" for column in cells for p in column]
        absent = np.array([[p == "" or m in missing for m, p in zip(MODALITIES, row)] for row in zip(*cells)])
        self.codes = (absent.reshape(-1, len(MODALITIES)) * (1 << np.arange(len(MODALITIES)))).sum(axis=1)

    def __len__(self) -> int:
        return self.rows

    def modality(self, i: int, m: int, aug_seed: int | None) -> torch.Tensor:
        """Modality m of row i, normalised; zeros when absent."""
        if self.codes[i] >> m & 1:
            return torch.zeros(3, self.image_size, self.image_size)
        x = self.load(m * self.rows + i)
        if self.augment and aug_seed is not None:
            # The same seed gives every modality the same flip; the saturation jitter is a no-op on the
            # replicated greyscale IR/depth (their channels are equal), so only RGB's colours change.
            x = flip_and_saturate(x, torch.Generator().manual_seed(int(aug_seed)))
        return (x - self.mean) / self.std

    def __getitem__(self, item) -> tuple[dict[str, torch.Tensor], int, int]:
        i, aug_seed = item if isinstance(item, tuple) else (item, None)
        images = torch.stack([self.modality(i, m, aug_seed) for m in range(len(MODALITIES))])
        inputs = {"modalities": images, "missing": torch.tensor(int(self.codes[i]), dtype=torch.long)}
        return inputs, int(self.labels[i]), i


def _cells(frame: pd.DataFrame, column: str) -> list[str]:
    """The column's relative paths, "" where a cell is empty or the manifest has no such column."""
    if column not in frame.columns:
        return [""] * len(frame)
    return ["" if pd.isna(p) else str(p).strip() for p in frame[column]]


def make_multimodal_dataset(cfg: RunCfg, frame: pd.DataFrame, fs, root: str, *, split: str, protocol, mean,
                            std) -> MultiModalImages:
    """The BIG-MoE family's dataset builder (see :mod:`pad_core.data.families`)."""
    from pad_core.models.backbones import backbone_info  # imported on use, as in data.families: it loads open_clip

    missing = tuple(protocol.test_missing) if split == "test" and protocol is not None else ()
    return MultiModalImages(frame, fs, root, image_size=backbone_info(cfg.backbone.name).image_size, mean=mean,
                            std=std, augment=cfg.data.augment and split == "train", missing=missing)
