"""An open_clip pretrained tag ("openai") resolved the way open_clip's ``download_pretrained`` would, offline.

open_clip 3.3 prefers the Hugging Face Hub entry of a tag (``hf_hub``, a safetensors file first) and falls back to
its URL (cached under ``~/.cache/clip``). A trial that finds neither in its cache downloads; on a machine without
internet that fails in every trial. The preflight looks in the same caches without downloading, and when the file
is absent asks the server for the file's metadata (seconds): unreachable means refused, with the ways to bring the
weights along.
"""

from __future__ import annotations

import difflib
import functools
import os
import urllib.request

import open_clip
from open_clip import pretrained as oc_pretrained

from pad_core.errors import ConfigError
from pad_core.models.backbones.weights import KEY

PROBE_TIMEOUT_S = 5.0  # a reachable server answers a metadata request well within this


def tag_cfg(name: str, tag: str) -> dict:
    """open_clip's entry for ``tag`` of model ``name``; ConfigError naming the model's tags when there is none."""
    cfg = oc_pretrained.get_pretrained_cfg(name, tag)
    if cfg:
        return cfg
    tags = open_clip.list_pretrained_tags_by_model(name)
    close = difflib.get_close_matches(tag, tags, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = f"use one of {tags}," if tags else f"{name} has no open_clip tags: give"
    raise ConfigError(KEY, tag, f"not a pretrained tag of {name}",
                      f"{hint}{listed} a local checkpoint path, or '' for random init")


def _hf_candidates(hf_hub: str) -> tuple[str, list[str]]:
    """(repository, file names in open_clip's order of preference) of an ``org/model/[file]`` entry."""
    repo, filename = os.path.split(hf_hub)
    filename = filename or oc_pretrained.HF_WEIGHTS_NAME
    safe = list(oc_pretrained._get_safe_alternatives(filename)) if oc_pretrained._has_safetensors else []
    return repo, [*safe, filename]


def _cached_hf(repo: str, names: list[str]) -> str:
    from huggingface_hub import try_to_load_from_cache

    for name in names:
        found = try_to_load_from_cache(repo, name)
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return ""


def _url_cache_file(url: str) -> str:
    return os.path.join(os.path.expanduser("~/.cache/clip"), os.path.basename(url))


@functools.lru_cache(maxsize=16)
def _hf_unreachable(repo: str, filename: str) -> str:
    """'' when the Hub serves the file, else why not (offline mode, no network, no such file)."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url

    if constants.is_offline_mode():
        return "HF_HUB_OFFLINE is set"
    try:
        get_hf_file_metadata(hf_hub_url(repo, filename), timeout=PROBE_TIMEOUT_S)
    except Exception as err:  # DNS, connection, HTTP and auth errors all mean: a trial cannot download it
        return f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
    return ""


@functools.lru_cache(maxsize=16)
def _url_unreachable(url: str) -> str:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S):
            return ""
    except Exception as err:
        return f"{type(err).__name__}: {err}"


def resolve_tag(name: str, tag: str) -> str:
    """Local path of the tag's weights when a trial would find them cached; '' when a trial can download them;
    ConfigError when the tag is unknown or its weights can be neither found nor downloaded."""
    cfg = tag_cfg(name, tag)
    if "file" in cfg:
        return cfg["file"]
    if oc_pretrained.has_hf_hub() and cfg.get("hf_hub"):  # open_clip's prefer_hf_hub: the URL is then unused
        repo, names = _hf_candidates(cfg["hf_hub"])
        cached = _cached_hf(repo, names)
        why = "" if cached else _hf_unreachable(repo, names[-1])
        where = f"the Hugging Face cache ({_hf_cache_dir()}) has no {' or '.join(names)} of {repo}"
        source = f"https://huggingface.co/{repo}"
    else:
        url = cfg.get("url", "")
        cached = _url_cache_file(url) if os.path.isfile(_url_cache_file(url)) else ""
        why = "" if cached else _url_unreachable(url)
        where, source = f"{_url_cache_file(url)} does not exist", url
    if cached or not why:
        return cached
    raise ConfigError(KEY, tag, f"the {name} weights of this tag cannot be obtained: {where}, and {source} cannot be "
                      f"reached ({why}), so every trial would fail to download them",
                      f"download them where there is internet (python -c \"import open_clip; open_clip.create_model("
                      f"'{name}', pretrained='{tag}')\") and pass the file with --pretrained /abs/path, or copy that "
                      "machine's Hugging Face cache here (HF_HOME) or bake it into the image")


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE
