"""open_clip CLIP built by name, with weights from an open_clip tag or a local checkpoint path.

The project's tiny configs (``model_configs/*.json``) are registered with ``add_model_config`` at
import, so ``pad-tiny-vit`` builds like any open_clip model. Nothing is downloaded in tests: an empty
``pretrained`` means random init.
"""

from __future__ import annotations

import open_clip
import torch
from torch import nn

from pad_core.config.schema import BackboneCfg
from pad_core.models.backbone_shapes import PROJECT_CONFIGS, backbone_info
from pad_core.models.backbones.clip_weights import check_clip_pretrained
from pad_core.models.backbones.weights import quiet_root_logger as _quiet_root_logger

open_clip.add_model_config(PROJECT_CONFIGS)

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


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
