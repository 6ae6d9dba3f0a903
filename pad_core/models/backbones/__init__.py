from pad_core.models.backbones.clip import (
    BackboneInfo,
    backbone_info,
    create_clip,
    encode_image_with_cls,
    norm_stats,
    tokenize,
)
from pad_core.models.backbones.torchvision_nets import TV_BACKBONES, create_torchvision, is_torchvision

__all__ = ["TV_BACKBONES", "BackboneInfo", "backbone_info", "create_clip", "create_torchvision",
           "encode_image_with_cls", "is_torchvision", "norm_stats", "tokenize"]
