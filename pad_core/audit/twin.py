"""Audit twins: a backbone with the same depths as the real one but tiny widths, so auditing a ViT-B/16
sweep takes seconds on a CPU driver. Layer indices, towers and head choices mean the same on the twin.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import open_clip

from pad_core.config import RunCfg, from_flat
from pad_core.models.backbones import backbone_info, is_torchvision

TWIN_WIDTH, TWIN_TEXT_WIDTH, TWIN_IMAGE, TWIN_PATCH = 64, 32, 32, 8
TORCHVISION_TWINS = {"resnet50": "resnet-tiny", "vit_b_16": "vit-tiny"}


@functools.cache
def _register_twin(visual_layers: int, text_layers: int) -> str:
    name = f"pad-audit-v{visual_layers}-t{text_layers}"
    cfg = {"embed_dim": 32, "quick_gelu": True,
           "vision_cfg": {"image_size": TWIN_IMAGE, "layers": visual_layers, "width": TWIN_WIDTH, "head_width": 8,
                          "patch_size": TWIN_PATCH},
           "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": TWIN_TEXT_WIDTH, "heads": 4,
                        "layers": max(1, text_layers)}}
    # open_clip reads the file when it is added and keeps the config in memory (a later rescan skips a path that
    # is gone): the folder is removed at once, not left in the temp folder by every audit
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.json"
        path.write_text(json.dumps(cfg))
        open_clip.add_model_config(path)
    return name


def twin_overrides(cfg: RunCfg) -> dict[str, Any]:
    """Flat overrides that move ``cfg`` onto its audit twin (random init, tiny widths, same depths)."""
    if cfg.family == "atr":  # same levels and bins; a 64-px frame keeps 4 levels above a 1-px bottleneck
        out = {"atr.image_size": 64, "atr.width": 8}
        return {**out, **_backbone_twin(cfg)} if cfg.atr.reads_backbone() else out
    return _backbone_twin(cfg)


def _backbone_twin(cfg: RunCfg) -> dict[str, Any]:
    name = cfg.backbone.name
    if is_torchvision(name):
        return {"backbone.name": TORCHVISION_TWINS.get(name, name), "backbone.pretrained": "",
                "backbone.imagenet_weights": ""}
    info = backbone_info(name)
    out: dict[str, Any] = {"backbone.name": _register_twin(info.visual_layers, info.text_layers),
                           "backbone.pretrained": "", "moe.soft.slots_per_expert": 4, "moe.moae.slots_per_expert": 4}
    hidden = cfg.moe.sue.routed_hidden
    if hidden:  # keep the ratio to the MLP width, so copy_mlp stays valid where it was
        out["moe.sue.routed_hidden"] = max(8, hidden * TWIN_WIDTH // info.visual_width)
    return out


def on_twin(cfg: RunCfg) -> RunCfg:
    return from_flat(twin_overrides(cfg), cfg)
