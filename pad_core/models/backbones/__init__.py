from pad_core.models.backbone_shapes import BackboneInfo, backbone_info
from pad_core.models.backbones.clip import create_clip, encode_image_with_cls, norm_stats, tokenize
from pad_core.models.backbones.torchvision_nets import create_torchvision
from pad_core.models.torchvision_names import TV_BACKBONES, is_torchvision

__all__ = ["TV_BACKBONES", "BackboneInfo", "backbone_info", "create_clip", "create_torchvision",
           "encode_image_with_cls", "is_torchvision", "norm_stats", "tokenize"]
