from pad_core.models.backbones.clip import BackboneInfo, backbone_info, create_clip, norm_stats, tokenize

__all__ = ["BackboneInfo", "backbone_info", "create_clip", "norm_stats", "tokenize"]
