"""A backbone's shape (depths, widths, input size) by name, without building it: ``--plan`` places
the MoE layers to estimate a cell's cost (pad_core/ablation/cost.py), and the factory, the audit and the data ask the
same rule. open_clip models are read from open_clip's own model config (a JSON file per name, in open_clip's
``model_configs`` folder or the project's, pad_core/models/backbones/model_configs) without loading torch;
torchvision-style networks from the declaration next to their code (named in pad_core/models/torchvision_names.py),
which loads torch on first use."""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pad_core.errors import ConfigError
from pad_core.models.torchvision_names import TV_BACKBONES, is_torchvision

PROJECT_CONFIGS = Path(__file__).parent / "backbones" / "model_configs"  # added to open_clip's by backbones/clip.py
SCHEMES = ("hf-hub:", "local-dir:")  # open_clip names that fetch a config and weights of their own


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


def clip_model_config(name: str) -> dict[str, Any] | None:
    """open_clip's model config of ``name`` (None: open_clip has none). The file open_clip registers under that
    name is read as it is (the project's folder is added after open_clip's, so its file wins, as in open_clip); any
    other name is asked of open_clip itself, which then loads."""
    for folder in (PROJECT_CONFIGS, _open_clip_configs()) if Path(name).name == name else ():  # a file's stem only
        path = folder / f"{name}.json" if folder else None
        if path and path.is_file():
            cfg = json.loads(path.read_text())
            if all(key in cfg for key in ("embed_dim", "vision_cfg", "text_cfg")):  # what open_clip registers
                return cfg
    from pad_core.models.backbones.clip import open_clip  # registers the project's folder with open_clip

    return open_clip.get_model_config(name)


def _open_clip_configs() -> Path | None:
    """open_clip's ``model_configs`` folder, found without importing open_clip (which imports torch)."""
    spec = importlib.util.find_spec("open_clip")
    folders = spec.submodule_search_locations if spec else None
    return Path(next(iter(folders))) / "model_configs" if folders else None


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
    cfg = clip_model_config(name)
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
