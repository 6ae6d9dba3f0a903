"""Pretrained weight files read and matched against an architecture on the driver, before any trial starts.

A weights file that is missing, unreadable or made for another architecture fails every trial of a sweep the same
way, three attempts per cell. So the sweep's preflight opens the file the way the trial's loader will (open_clip's
``load_checkpoint`` for CLIP backbones, :func:`pad_core.models.backbones.torchvision_nets.create_torchvision` for
torchvision baselines) but reads only names and shapes: ``torch.load(mmap=True)`` maps the file instead of reading
its tensors, a safetensors header lists them. The shapes are compared with the model's own state dict (built on the
meta device, so without memory) and a mismatch is reported with counts and examples.
"""

from __future__ import annotations

import contextlib
import logging
import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from pad_core.errors import ConfigError

KEY = "backbone.pretrained"
SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
                      "BOOL": torch.bool}
EXAMPLES = 3  # keys named per kind of mismatch
RESAVE = ("re-download the file, or save a state dict with torch.save(model.state_dict(), path) (a safetensors file "
          "must end in .safetensors)")


@contextlib.contextmanager
def quiet_root_logger() -> Iterator[None]:
    """open_clip logs every build step on the root logger and warns that a model "initialized randomly", which is
    the intent when pretrained is "" (tests, demo) or the model is built on the meta device; keep its errors only."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


# What else each key takes, for the fix of a path that names no file.
OTHER_VALUES = {KEY: "an open_clip tag, or '' for random init",
                "backbone.imagenet_weights": "'torchvision' (torchvision's cached ImageNet file), or '' for random "
                                             "init"}


def require_file(path: str, key: str = KEY) -> None:
    if "://" in path:
        raise ConfigError(key, path, "a URL: weights load from a local file (open_clip opens no URLs)",
                          "copy the file to a path every node reads (a shared mount, or baked into the image) and "
                          "pass that absolute path")
    if os.path.isdir(path):
        raise ConfigError(key, path, "is a folder, not a weights file",
                          "give the checkpoint file itself (e.g. .../open_clip_model.safetensors)")
    if not os.path.isfile(path):
        raise ConfigError(key, path, "checkpoint file not found",
                          "give an existing local checkpoint path (absolute: trials run in another folder), "
                          f"{OTHER_VALUES.get(key, OTHER_VALUES[KEY])}")
    if path.lower().endswith((".npz", ".npy")):
        raise ConfigError(key, path, "numpy (big_vision) weights load into SigLIP models only",
                          "give a PyTorch (.pt/.pth/.bin) or .safetensors state dict of the backbone")


def _first_line(err: BaseException) -> str:
    """The line of a loader's error that says what is wrong (torch's weights-only message hides it further down)."""
    text, marker = str(err), "WeightsUnpickler error:"
    if marker in text:
        text = marker + " " + text.split(marker, 1)[1].strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0][:200]}" if lines else type(err).__name__


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive (OpenAI's original ``ViT-B-16.pt``): a zip holding compiled code next to the data."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") or name == "constants.pkl" for name in archive.namelist())


def _read_torch(path: str, key: str) -> object:
    if _is_torchscript(path):
        raise ConfigError(key, path, "is a TorchScript archive (OpenAI's original release format), which the loader "
                          "refuses to unpickle", "convert it once: python -c \"import torch; torch.save(torch.jit.load("
                          f"'{path}', map_location='cpu').state_dict(), '{path}.state.pt')\" and pass that file")
    # mmap maps the file instead of reading every tensor; files in torch's pre-1.6 format cannot be mapped
    mmap = zipfile.is_zipfile(path)
    return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)


def _read_safetensors(path: str, data: bool) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        names = f.keys()  # a safe_open handle is not iterable itself
        if data:
            return {k: f.get_tensor(k) for k in names}
        header = {k: f.get_slice(k) for k in names}
        return {k: torch.empty(s.get_shape(), dtype=SAFETENSORS_DTYPES.get(s.get_dtype(), torch.float32),
                               device="meta") for k, s in header.items()}


def read_state_dict(path: str, *, data: bool = False, key: str = KEY) -> dict[str, torch.Tensor]:
    """The state dict in ``path`` as open_clip's ``load_state_dict`` unwraps it (a ``state_dict`` entry, a
    ``module.`` prefix); the format follows the file name as there (``.safetensors`` or ``torch.load``).
    Without ``data``, tensors are memory-mapped (torch) or shape-only meta tensors (safetensors)."""
    require_file(path, key)
    kind = "safetensors" if path.endswith(".safetensors") else "PyTorch"
    try:
        raw = _read_safetensors(path, data) if kind == "safetensors" else _read_torch(path, key)
    except ConfigError:
        raise
    except Exception as err:  # any unreadable file: torch and safetensors raise many types for it
        raise ConfigError(key, path, f"cannot be read as a {kind} checkpoint, corrupt or truncated? "
                          f"({_first_line(err)})", RESAVE) from None
    return _unwrap(raw, path, key)


def _unwrap(raw: object, path: str, key: str) -> dict[str, torch.Tensor]:
    if isinstance(raw, Mapping) and "state_dict" in raw:
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping):
        raise ConfigError(key, path, f"holds a {type(raw).__name__}, not a state dict", RESAVE)
    other = [k for k, v in raw.items() if not isinstance(v, torch.Tensor)]
    if other or not raw:
        what = f"entries that are not tensors (e.g. {other[:EXAMPLES]})" if other else "no tensors"
        raise ConfigError(key, path, f"holds {what}: a training checkpoint or another object, not a model's state "
                          "dict", "save the backbone's weights alone: torch.save(model.state_dict(), path)")
    state = dict(raw)
    if next(iter(state)).startswith("module"):  # open_clip strips a DDP prefix the same way
        state = {k[7:]: v for k, v in state.items()}
    return state


@dataclass(frozen=True)
class WeightsFit:
    """How a file's tensors line up with a model's state dict."""

    missing: tuple[str, ...]  # the model has them, the file does not
    unexpected: tuple[str, ...]  # the file has them, the model does not
    mismatched: tuple[tuple[str, tuple, tuple], ...]  # (key, file shape, model shape)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing (e.g. {list(self.missing[:EXAMPLES])})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected (e.g. {list(self.unexpected[:EXAMPLES])})")
        if self.mismatched:
            shown = "; ".join(f"{k}: file {_shape(a)}, model {_shape(b)}" for k, a, b in self.mismatched[:EXAMPLES])
            parts.append(f"{len(self.mismatched)} of another shape (e.g. {shown})")
        return ", ".join(parts)


def _shape(shape: tuple) -> str:
    return "x".join(map(str, shape)) or "scalar"


def shapes(state: Mapping[str, torch.Tensor]) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in state.items()}


def fit(expected: Mapping[str, tuple], found: Mapping[str, tuple], ignore: tuple[str, ...] = ()) -> WeightsFit:
    """Missing, unexpected (except keys under ``ignore`` prefixes) and mismatched keys of ``found``."""
    missing = tuple(k for k in expected if k not in found)
    unexpected = tuple(k for k in found if k not in expected and not k.startswith(ignore))
    mismatched = tuple((k, found[k], expected[k]) for k in expected if k in found and found[k] != expected[k])
    return WeightsFit(missing, unexpected, mismatched)


def open_clip_view(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` as open_clip 3.3's ``load_checkpoint`` hands it to ``load_state_dict``: third-party formats
    converted, scalar logit parameters reshaped, position embeddings resized to the model's grid and context.
    Mirrors that function line by line (the test that a good file passes and loads keeps them in step)."""
    from open_clip.convert import convert_state_dict
    from open_clip.model import convert_to_custom_text_state_dict, resize_pos_embed, resize_text_pos_embed

    state = convert_state_dict(model, dict(state))
    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        state = convert_to_custom_text_state_dict(state)
    for name in ("logit_scale", "logit_bias"):
        param = getattr(model, name, None)
        if name in state and param is not None and param.ndim != state[name].ndim:
            state[name] = state[name].reshape(param.shape)
    if "logit_bias" not in state and getattr(model, "logit_bias", None) is not None:
        state["logit_bias"] = torch.zeros_like(state["logit_scale"])
    position_ids = "text.transformer.embeddings.position_ids"
    if position_ids in state and not hasattr(model, position_ids):
        del state[position_ids]
    resize_pos_embed(state, model)
    resize_text_pos_embed(state, model)
    return state
