"""ImageNet-style baselines of the papers' tables (ResNet50, ViT-B/16 with a linear head), built with torchvision.

Their weights come from ``backbone.imagenet_weights`` (``backbone.pretrained`` is the CLIP rows' key):

- ``"torchvision"``: the file torchvision's own ``weights="IMAGENET1K_V1"`` API keeps in its hub cache,
  ``$TORCH_HOME/hub/checkpoints/<file>`` (``torch.hub.get_dir()``); never downloaded. IMAGENET1K_V1 for both
  networks: the original torchvision recipe that ``pretrained=True`` gave before torchvision 0.13, which is what the
  papers' code lineage (FLIP, 2023) loads; ViT-B/16 has no other 224-px ImageNet-1k set. A cache holding only
  ResNet50's V2 file is refused, naming it: two tensor sets under one config value would make a result depend on
  the machine's cache, so another set is passed as a path (and so recorded in the config).
- a local state-dict path (a whole classifier's: its ImageNet layer is dropped), matched against the headless
  network's shapes before any trial (:func:`check_imagenet_weights`);
- ``""``: random init.

Tiny twins (``resnet-tiny``, ``vit-tiny``) keep CPU tests and demos fast; torchvision publishes no weights for them,
so ``"torchvision"`` there is random init (refused at the paper scales like ``""``, see :func:`starts_random`).
"""

from __future__ import annotations

import functools
import os

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from pad_core.config.weight_names import is_tag
from pad_core.errors import ConfigError
from pad_core.models.backbones.weights import fit, read_state_dict, require_file, shapes
from pad_core.models.torchvision_names import (
    KEY,
    TORCHVISION,
    TV_BACKBONES,
    Network,
    starts_random,
    trained_from_scratch,
)


def _headless_resnet(net: ResNet) -> nn.Module:
    net.fc = nn.Identity()
    return net


def _headless_vit(net: torchvision.models.VisionTransformer) -> nn.Module:
    net.heads = nn.Identity()
    return net


# The networks TV_BACKBONES names (pad_core/models/torchvision_names.py), read from there when first built.
RESNET50 = Network(lambda: _headless_resnet(torchvision.models.resnet50()), 2048, 224, 4)
VIT_B_16 = Network(lambda: _headless_vit(torchvision.models.vit_b_16()), 768, 224, 12)
RESNET_TINY = Network(lambda: _headless_resnet(ResNet(BasicBlock, [1, 1, 1, 1])), 512, 64, 4)
VIT_TINY = Network(lambda: _headless_vit(torchvision.models.VisionTransformer(
    image_size=64, patch_size=8, num_layers=4, num_heads=4, hidden_dim=128, mlp_dim=512)), 128, 64, 4)


# The checkpoint of a whole torchvision classifier carries its ImageNet layer, which the headless network drops.
CLASSIFIER_PREFIXES = ("fc.", "heads.")


@functools.cache
def meta_torchvision(name: str) -> nn.Module:
    """The headless network on the meta device: its state dict's names and shapes, no memory."""
    with torch.device("meta"):
        return TV_BACKBONES.get(name).build()


def cache_file(entry: str) -> str:
    """Where torchvision's ``weights=`` API keeps ``entry`` ("ResNet50_Weights.IMAGENET1K_V1"): its URL's file name
    under ``torch.hub.get_dir()/checkpoints`` ($TORCH_HOME/hub, default ~/.cache/torch/hub), as
    ``load_state_dict_from_url`` names it."""
    url = torchvision.models.get_weight(entry).url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def fill_command(name: str, entry: str) -> str:
    return f"python -c \"import torchvision; torchvision.models.{name}(weights='{entry.split('.')[-1]}')\""



def folder_candidates(name: str) -> list[str]:
    """File names a weights folder may hold for ``name``: torchvision's own cache name for its ImageNet set (a copy of
    $TORCH_HOME/hub/checkpoints works as it is), then ``<name>.safetensors|.pth|.pt`` for any network."""
    entry = TV_BACKBONES.get(name).imagenet
    own = [os.path.basename(cache_file(entry))] if entry else []
    return own + [f"{name}{suffix}" for suffix in (".safetensors", ".pth", ".pt")]


def folder_file(name: str, folder: str) -> str:
    """The file ``folder`` holds for ``name`` ('' when none): one folder serves a table whose rows use several
    networks (ResNet50, ViT-B/16, DenseNet161 in DeepPixBiS), where one file path cannot."""
    return next((os.path.join(folder, f) for f in folder_candidates(name) if os.path.isfile(os.path.join(folder, f))),
                "")



def resolve_imagenet_weights(name: str, weights: str) -> str:
    """The local file ``weights`` names for ``name`` ('' = random init); ConfigError when torchvision's cache file is
    missing (with the path looked for and the two ways to fill it) or the value is neither a path nor 'torchvision'."""
    if weights and os.path.isdir(weights):
        path = folder_file(name, weights)
        if path or trained_from_scratch(name):
            return path
        raise ConfigError(KEY, weights, f"the folder holds no weights for {name}: looked for "
                          f"{folder_candidates(name)}", f"put {name}'s state dict there under one of those names, "
                          "give its file path instead, or --allow-random-init with '' for random init")
    if starts_random(name, weights):
        return ""
    if weights != TORCHVISION:
        if is_tag(weights):  # a word such as IMAGENET1K_V2 or openai, not a path
            raise ConfigError(KEY, weights, "neither a weights file path nor 'torchvision' (torchvision baselines "
                              "take no tags; their weights are never downloaded)", "give a local state-dict path, "
                              "'torchvision' for torchvision's cached ImageNet file, or '' for random init")
        return weights
    entry = TV_BACKBONES.get(name).imagenet
    path = cache_file(entry)
    if os.path.isfile(path):
        return path
    others = [cache_file(e) for e in _other_entries(entry) if os.path.isfile(cache_file(e))]
    found = f"; the cache holds {others} (another weight set: pass it as a path to use it)" if others else ""
    raise ConfigError(KEY, weights, f"torchvision's {entry} file is not in its cache: looked for {path}{found}; "
                      "nothing is downloaded", f"pass --imagenet-weights /abs/path/to/{os.path.basename(path)}, or "
                      f"fill the cache once on a machine with internet ({fill_command(name, entry)}) and copy "
                      f"{os.path.dirname(path)} to every node (TORCH_HOME moves it)")


def _other_entries(entry: str) -> list[str]:
    enum = torchvision.models.get_weight(entry).__class__
    return [f"{enum.__name__}.{member.name}" for member in enum if f"{enum.__name__}.{member.name}" != entry]


def check_imagenet_weights(name: str, weights: str) -> str:
    """The file ``weights`` names for ``name`` ('' = random init); ConfigError unless it is a local state dict (or
    torchvision's cache file) that fits the headless ``name`` (checked once per file version and process: a sweep's
    cells share it)."""
    path = resolve_imagenet_weights(name, weights)
    if not path:
        return path
    require_file(path, KEY)
    stat = os.stat(path)
    _check_file(name, os.path.abspath(path), stat.st_size, stat.st_mtime_ns, weights)
    return path


@functools.lru_cache(maxsize=16)
def _check_file(name: str, path: str, size: int, mtime_ns: int, shown: str) -> None:
    found = shapes(read_state_dict(path, key=KEY))
    result = fit(shapes(meta_torchvision(name).state_dict()), found, ignore=CLASSIFIER_PREFIXES)
    if not result.ok:
        raise ConfigError(KEY, shown, f"the weights in {path} do not fit {name}: {result.describe()}",
                          f"give a state dict saved from torchvision's {name} (torch.save(model.state_dict(), path))")


def create_torchvision(name: str, weights: str) -> nn.Module:
    """The headless network ``name`` with ``weights`` loaded: "" = random init, "torchvision" = torchvision's cached
    ImageNet file, else a local state-dict path. Checked here too: the trial's node may lack the file."""
    net = TV_BACKBONES.get(name).build()
    path = check_imagenet_weights(name, weights)
    if path:
        state = read_state_dict(path, data=True, key=KEY)
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith(CLASSIFIER_PREFIXES)})
    return net
