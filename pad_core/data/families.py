"""Which dataset class feeds which model family: one image (CLIP family), three modalities (BIG-MoE),
or a screen-flash frame sequence with depth and attack-type targets (ATR-FAS).

Every builder takes ``(cfg, frame, fs, root, *, split, protocol, mean, std)`` and returns a dataset whose
items are ``(inputs, targets, row index)``: ``inputs`` a tensor or a dict of tensors, ``targets`` the label
or a dict holding ``label`` and the family's extra targets.
"""

from __future__ import annotations

from pad_core.config.schema import RunCfg
from pad_core.data.dataset import ManifestImages
from pad_core.registry import Registry

DATASETS: Registry = Registry("dataset family")


@DATASETS.register("clip")
def make_image_dataset(cfg: RunCfg, frame, fs, root: str, *, split: str, protocol, mean, std) -> ManifestImages:
    from pad_core.models.backbones import backbone_info

    return ManifestImages(frame, fs, root, image_size=backbone_info(cfg.backbone.name).image_size, mean=mean,
                          std=std, augment=cfg.data.augment and split == "train")


@DATASETS.register("bigmoe")
def _multimodal(cfg: RunCfg, frame, fs, root: str, **kw):
    from pad_core.data.multimodal import make_multimodal_dataset  # imported on use, like the model families

    return make_multimodal_dataset(cfg, frame, fs, root, **kw)


@DATASETS.register("atr")
def _flash(cfg: RunCfg, frame, fs, root: str, **kw):
    from pad_core.data.flash import make_flash_dataset

    return make_flash_dataset(cfg, frame, fs, root, **kw)


def make_dataset(cfg: RunCfg, frame, fs, root: str, *, split: str, protocol, mean, std):
    return DATASETS.get(cfg.family)(cfg, frame, fs, root, split=split, protocol=protocol, mean=mean, std=std)


def make_split_datasets(cfg: RunCfg, data) -> dict:
    """The train, dev and test datasets of a prepared data set (``pad_core.data.prepare``) for ``cfg``'s family.

    Building them reads no image, only the manifest's columns: the sweep's preflight builds them once per family and
    data config on the driver, so a column or a value a family needs (ATR-FAS: ``path_depth``, attack types its gate
    has experts for; BIG-MoE: the modality columns) is refused before launch, not in every trial."""
    from pad_core.models.backbones import norm_stats  # imported on use: it loads open_clip

    mean, std = norm_stats(cfg.backbone.norm_stats)
    m = data.manifest
    return {split: make_dataset(cfg, data.split(split), m.fs, m.root, split=split, protocol=data.protocol, mean=mean,
                                std=std) for split in ("train", "dev", "test")}
