"""``backbone.pretrained`` of an open_clip backbone checked before any trial: the tag is known and its weights can be
obtained, or the file exists, reads as a state dict and fits the architecture, key for key and shape for shape.

Each (model, file) pair is checked once per process: a sweep's cells and a search's probe draws share the result.
"""

from __future__ import annotations

import difflib
import functools
import os
import re

import open_clip
import torch
from torch import nn

from pad_core.config.weight_names import is_tag
from pad_core.errors import ConfigError
from pad_core.models.backbones.weight_tags import resolve_tag, tag_cfg
from pad_core.models.backbones.weights import (
    KEY,
    fit,
    open_clip_view,
    quiet_root_logger,
    read_state_dict,
    require_file,
    shapes,
)

BLOCK = re.compile(r"^(visual\.)?transformer\.resblocks\.(\d+)\.")


@functools.cache
def meta_clip(name: str) -> nn.Module:
    """The open_clip model ``name`` on the meta device: its state dict's names and shapes, no memory."""
    try:
        with torch.device("meta"), quiet_root_logger():
            return open_clip.create_model(name, pretrained=None, device="meta")
    except Exception as err:  # a model config open_clip cannot build (a user-registered JSON, say)
        raise ConfigError("backbone.name", name, f"open_clip cannot build this model ({type(err).__name__}: {err})",
                          "fix its model config, or use another backbone") from None


def check_clip_pretrained(name: str, pretrained: str) -> None:
    """ConfigError unless ``pretrained`` ('' = random init, an open_clip tag, or a local file) loads into ``name``."""
    if not pretrained:
        return
    if is_tag(pretrained):
        _check_tag(name, pretrained)
        return
    require_file(pretrained)
    stat = os.stat(pretrained)
    _check_file(name, os.path.abspath(pretrained), stat.st_size, stat.st_mtime_ns, pretrained)


def _check_tag(name: str, tag: str) -> None:
    cfg = tag_cfg(name, tag)
    quick_gelu = bool((open_clip.get_model_config(name) or {}).get("quick_gelu", False))
    if cfg.get("quick_gelu", False) and not quick_gelu:
        raise ConfigError("backbone.name", name, f"the {tag!r} weights were trained with QuickGELU",
                          f"use {name}-quickgelu (open_clip >= 3.0 only warns about this)")
    cached = resolve_tag(name, tag)
    if cached:  # the file a trial will load: a broken download fails there as a wrong file would
        stat = os.stat(cached)
        _check_file(name, cached, stat.st_size, stat.st_mtime_ns, tag)


@functools.lru_cache(maxsize=32)
def _check_file(name: str, path: str, size: int, mtime_ns: int, shown: str) -> None:
    """Cached by the file's size and modification time, so a replaced file is read again."""
    model = meta_clip(name)
    state = read_state_dict(path)
    try:
        state, adapt = open_clip_view(model, state), ""
    except Exception as err:  # open_clip's own resizing raises on shapes it cannot adapt: compare them as they are
        adapt = f"; open_clip cannot adapt them ({type(err).__name__}: {str(err)[:160]})"
    found = shapes(state)
    result = fit(shapes(model.state_dict()), found)
    if not result.ok or adapt:
        raise ConfigError(KEY, shown, f"the weights in {path} do not fit {name}: "
                          f"{result.describe() or 'same names and shapes'}{adapt}", _fix(name, found))


def architecture(found: dict[str, tuple]) -> dict[str, int]:
    """Width, patch and depths of a CLIP ViT state dict, read from its shapes (empty if it is none)."""
    conv = found.get("visual.conv1.weight")
    if conv is None or len(conv) != 4:
        return {}
    blocks = {"visual.": set(), "": set()}
    for key in found:
        match = BLOCK.match(key)
        if match:
            blocks[match.group(1) or ""].add(int(match.group(2)))
    return {"width": conv[0], "patch": conv[-1], "layers": len(blocks["visual."]), "text_layers": len(blocks[""])}


def _config_architecture(cfg: dict) -> dict[str, int]:
    vis, txt = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
    return {"width": vis.get("width"), "patch": vis.get("patch_size"), "layers": vis.get("layers"),
            "text_layers": txt.get("layers")}


def matching_models(found: dict[str, tuple], like: str, limit: int = 3) -> list[str]:
    """open_clip model names whose ViT has the file's width, patch and depths, those most like ``like`` first."""
    arch = architecture(found)
    if not arch:
        return []
    names = [n for n in open_clip.list_models()
             if _config_architecture(open_clip.get_model_config(n) or {}) == arch]
    return _closest_first(names, like)[:limit]


def _closest_first(names: list[str], name: str) -> list[str]:
    return sorted(names, key=lambda n: -difflib.SequenceMatcher(None, n, name).ratio())


def _fix(name: str, found: dict[str, tuple]) -> str:
    arch = architecture(found)
    held = (f"the file holds a ViT of width {arch['width']}, patch {arch['patch']}, {arch['layers']} image and "
            f"{arch['text_layers']} text blocks" if arch else "the file holds no CLIP ViT")
    fits = matching_models(found, name)
    other = f" (it fits {fits})" if fits else ""
    return (f"{held}{other}: give weights saved from {name} (an open_clip state dict), or set backbone.name to "
            "the architecture the file was saved from")
