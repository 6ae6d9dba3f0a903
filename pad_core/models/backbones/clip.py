"""open_clip CLIP built by name, with weights from an open_clip tag or a local checkpoint path.

The project's tiny configs (``model_configs/*.json``) are registered with ``add_model_config`` at
import, so ``pad-tiny-vit`` builds like any open_clip model. Nothing is downloaded in tests: an empty
``pretrained`` means random init.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
from torch import nn

from pad_core.config.schema import BackboneCfg
from pad_core.errors import ConfigError
from pad_core.models.backbones.clip_weights import check_clip_pretrained
from pad_core.models.backbones.torchvision_nets import TV_BACKBONES, is_torchvision
from pad_core.models.backbones.weights import quiet_root_logger as _quiet_root_logger

open_clip.add_model_config(Path(__file__).parent / "model_configs")

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneInfo:
    """Shape facts read from the open_clip model config, without building the model."""

    visual_layers: int  # resblocks in the image tower
    text_layers: int  # resblocks in the text tower
    visual_width: int  # d of the image tower
    text_width: int  # d of the text tower
    image_size: int  # input side in pixels
    patch_size: int  # ViT patch side
    quick_gelu: bool  # whether the config builds QuickGELU (needed by OpenAI weights)

    @property
    def visual_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2 + 1


SCHEMES = ("hf-hub:", "local-dir:")  # open_clip names that fetch a config and weights of their own


@functools.cache
def backbone_info(name: str) -> BackboneInfo:
    if is_torchvision(name):
        spec = TV_BACKBONES.get(name)
        return BackboneInfo(visual_layers=spec.depth, text_layers=0, visual_width=spec.feature_dim, text_width=0,
                            image_size=spec.image_size, patch_size=1, quick_gelu=False)
    if name.startswith(SCHEMES):
        raise ConfigError("backbone.name", name, "an open_clip model fetched with its own config and weights; sweeps "
                          "build a named architecture and load weights into it", "use the architecture's open_clip "
                          "name (e.g. ViT-B-16-quickgelu) and pass the weights file with --pretrained /abs/path")
    cfg = open_clip.get_model_config(name)
    if cfg is None:
        raise ConfigError("backbone.name", name, "unknown open_clip model or torchvision baseline",
                          f"use an open_clip name such as ViT-B-16-quickgelu (pad-tiny-vit for CPU runs) or one of "
                          f"{TV_BACKBONES.list()}")
    vis, txt = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
    if not _plain_vit_clip(vis, txt):
        raise ConfigError("backbone.name", name, "not a ViT CLIP with its own text transformer (a ResNet, timm or "
                          "Hugging Face tower): the MoE layers, heads and audit work on ViT blocks",
                          "use a ViT CLIP such as ViT-B-16-quickgelu, or a torchvision baseline (resnet50)")
    image_size = vis["image_size"] if isinstance(vis["image_size"], int) else vis["image_size"][0]
    return BackboneInfo(visual_layers=vis["layers"], text_layers=txt["layers"], visual_width=vis["width"],
                        text_width=txt["width"], image_size=image_size, patch_size=vis["patch_size"],
                        quick_gelu=bool(cfg.get("quick_gelu", False)))


def _plain_vit_clip(vis: dict, txt: dict) -> bool:
    return (isinstance(vis.get("layers"), int) and isinstance(vis.get("patch_size"), int)
            and not vis.get("timm_model_name") and isinstance(txt.get("layers"), int)
            and not txt.get("hf_model_name"))


def create_clip(cfg: BackboneCfg) -> nn.Module:
    """Build the CLIP model, load weights, and freeze towers as the config says. Built on the current default
    device: the CPU in a trial, the meta device when the preflight builds the model to check it can be built."""
    backbone_info(cfg.name)  # an unknown name is refused with the list of names
    check_clip_pretrained(cfg.name, cfg.pretrained)  # clear errors in the trial too (a file missing on its node)
    with _quiet_root_logger():
        model = open_clip.create_model(cfg.name, pretrained=cfg.pretrained or None, output_dict=True,
                                       device=torch.empty(0).device)
    _set_trainable(model.visual.parameters(), cfg.train_visual)
    text_params = [p for n, p in model.named_parameters() if not n.startswith("visual.") and n != "logit_scale"]
    _set_trainable(text_params, cfg.train_text)
    return model


def _set_trainable(params, flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def encode_image_with_cls(visual: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(projected embedding, pre-projection pooled token) in one pass of open_clip's VisionTransformer.

    Mirrors ``VisionTransformer.forward`` of the pinned open_clip 3.3 (``_embeds``, ``transformer``, ``_pool``,
    ``proj``); the test "MoE off equals vanilla CLIP" checks it still matches ``encode_image`` exactly.
    """
    x = visual.transformer(visual._embeds(images))
    pooled, _ = visual._pool(x)
    return (pooled @ visual.proj if visual.proj is not None else pooled), pooled


def norm_stats(kind: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return (CLIP_MEAN, CLIP_STD) if kind == "clip" else (IMAGENET_MEAN, IMAGENET_STD)


def tokenize(name: str, texts: list[str]) -> torch.Tensor:
    """Token ids for ``texts`` with the model's own tokenizer and context length."""
    with _quiet_root_logger():
        return open_clip.get_tokenizer(name)(texts)
