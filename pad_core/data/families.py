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
