"""What the ``rehearsal`` scale needs that a lab brings at paper scale: pretrained weights in a local file and a
dataset behind ``s3://``.

No weights or datasets can be downloaded on a machine without a GPU cluster's network, so the rehearsal makes
them once, in the formats the real ones have:

- **Weights**: the backbone's state dict written with ``torch.save``, the format of open_clip's
  ``open_clip_pytorch_model.bin`` (what the ``openai`` tag resolves to) and of torchvision's ImageNet files. The
  rehearsal loads it through ``backbone.pretrained=PATH``, the same code a lab's local file takes. The tensors are
  a seeded random init: the rehearsal checks the path, not the numbers.
- **Data**: the synthetic benchmark the sweep's base names (``synthetic:iris``...), rendered larger than the
  model's input (so the antialiased resize runs, as on real frames), cut to ``per_group`` rows per (subset, split,
  label, species) so evaluations read few images, and uploaded with its manifest under the sweep's ``s3://``
  storage. The manifest is written last: its presence means the upload is complete.

Both are cached (weights under ``$PADSWEEP_CACHE``; data by its content key on S3), so a rehearsal pays for them
once per machine and bucket.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from pad_core.errors import ConfigError

if TYPE_CHECKING:  # pandas loads where a manifest is staged, not with the command line that imports this module
    import pandas as pd

WEIGHTS_VERSION = 1  # bump when the generated file's contents change
STAGE_VERSION = 1  # bump when the staged subset's rule changes
SYNTH_SCALE = 0.01  # the smallest synthetic benchmark every builder supports (the smoke scale's)
PER_GROUP = 2  # rows kept per (subset, split, label, species): every protocol still sees both classes
GROUP_KEYS = ("subset", "split", "label", "attack_type")
MARGIN_PX = 32  # staged images are this much larger than the model's input


def cache_dir() -> Path:
    return Path(os.environ.get("PADSWEEP_CACHE", Path.home() / ".cache" / "padsweep")) / "rehearsal"


def weights_file(backbone: str) -> str:
    """Local path of the rehearsal weights of ``backbone`` (an open_clip model or a torchvision baseline),
    written once under a file lock."""
    path = cache_dir() / "weights" / f"{backbone}-v{WEIGHTS_VERSION}.bin"
    if path.is_file():
        return str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if not path.is_file():
            _write_weights(backbone, path)
    return str(path)


def _write_weights(backbone: str, path: Path) -> None:
    import torch

    from pad_core.models.backbones.torchvision_nets import create_torchvision
    from pad_core.models.backbones.weights import quiet_root_logger
    from pad_core.models.torchvision_names import is_torchvision

    torch.manual_seed(0)
    if is_torchvision(backbone):
        state = create_torchvision(backbone, "").state_dict()
    else:
        import open_clip

        with quiet_root_logger():
            state = open_clip.create_model(backbone, pretrained=None).state_dict()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a reader sees the whole file or none


@dataclass(frozen=True)
class StagedData:
    uri: str  # s3:// URI of the staged manifest
    rows: int  # rows in the staged manifest
    files: int  # image files uploaded (0 when the bucket already had them)


def staged_manifest(synthetic_uri: str, storage_uri: str, *, size: int, per_group: int = PER_GROUP,
                    storage_options: dict[str, Any] | None = None) -> StagedData:
    """The ``s3://`` manifest of the rehearsal subset of ``synthetic_uri`` under ``storage_uri``, uploading it
    unless the bucket has it already."""
    import fsspec
    import pandas as pd

    from pad_core.data.synthetic import materialize

    local = materialize(synthetic_uri, scale=SYNTH_SCALE, size=size, seed=0)
    frame = subset_rows(pd.read_csv(local, dtype=str, keep_default_na=False), per_group)
    name = synthetic_uri.split(":", 1)[1]
    key = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:10]
    folder = f"{storage_uri.rstrip('/')}/rehearsal-data/{name}-p{size}-v{STAGE_VERSION}-{key}"
    fs, root = fsspec.core.url_to_fs(folder, **(storage_options or {}))
    manifest = posixpath.join(root, "manifest.csv")
    if fs.exists(manifest):
        return StagedData(f"{folder}/manifest.csv", len(frame), 0)
    files = [f for col in file_columns(frame) for f in frame[col] if f]
    base = Path(local).parent
    for rel in files:
        fs.put_file(str(base / rel), posixpath.join(root, rel))
    with fs.open(manifest, "wb") as out:
        out.write(frame.to_csv(index=False).encode())
    return StagedData(f"{folder}/manifest.csv", len(frame), len(files))


def file_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c == "path" or c.startswith("path_")]


def subset_rows(frame: pd.DataFrame, per_group: int) -> pd.DataFrame:
    """The first ``per_group`` rows of every (subset, split, label, species) group, in manifest order: splits
    stay subject-disjoint (rows are only dropped) and every protocol keeps both classes and every species."""
    keys = [k for k in GROUP_KEYS if k in frame.columns]
    return frame.groupby(keys, sort=False, group_keys=False).head(per_group).reset_index(drop=True)


def require_remote_storage(storage_uri: str) -> None:
    if not storage_uri.startswith("s3://"):
        raise ConfigError("--storage", storage_uri, "the rehearsal scale keeps data and checkpoints on S3, as a "
                          "cluster does", "pass --storage s3://bucket/prefix (with AWS_ENDPOINT_URL and keys in the "
                          "environment for an S3-compatible server)")


def input_size(cfg) -> int:
    """Side in pixels the model reads (ATR-FAS frames have their own; everything else the backbone's)."""
    from pad_core.models.backbones import backbone_info

    return cfg.atr.image_size if cfg.family == "atr" else backbone_info(cfg.backbone.name).image_size


def rehearse_rows(base: dict[str, Any], rows: tuple, storage_uri: str) -> tuple[dict, tuple]:
    """The sweep's base and rows with the rehearsal's weights and data put where paper scale has a tag and a
    dataset: a pretrained tag becomes the generated weights file of the row's backbone (rows that pin random
    init keep it), and a ``synthetic:`` manifest the staged ``s3://`` one."""
    from pad_core.config import from_flat
    from pad_core.config.weight_names import is_tag  # one rule for tag vs file, shared with the preflight
    from pad_core.models.torchvision_names import is_torchvision

    base_cfg = from_flat(base)
    out = dict(base)
    if base_cfg.data.manifest.startswith("synthetic:"):
        require_remote_storage(storage_uri)
        staged = staged_manifest(base_cfg.data.manifest, storage_uri, size=input_size(base_cfg) + MARGIN_PX)
        print(f"[padsweep] rehearsal data: {staged.rows} images at {staged.uri} ({staged.files} uploaded now)",
              flush=True)
        out["data.manifest"] = staged.uri
    if is_tag(base_cfg.backbone.pretrained):
        out["backbone.pretrained"] = weights_file(base_cfg.backbone.name)
    out.update(staged_imagenet(out, base_cfg.backbone.name))
    new_rows = []
    for row in rows:
        name = row.delta.get("backbone.name", base_cfg.backbone.name)
        pretrained = row.delta.get("backbone.pretrained", out.get("backbone.pretrained", ""))
        if is_torchvision(name):  # torchvision rows read backbone.imagenet_weights
            row = replace(row, delta={**row.delta, **staged_imagenet({**out, **row.delta}, name)})
        elif name != base_cfg.backbone.name and (is_tag(pretrained) or pretrained == out.get("backbone.pretrained")):
            row = replace(row, delta={**row.delta, "backbone.pretrained": weights_file(name)})
        new_rows.append(row)
    return out, tuple(new_rows)


def staged_imagenet(flat: dict[str, Any], name: str) -> dict[str, Any]:
    """``backbone.imagenet_weights`` of a torchvision network that reads torchvision's cache at paper scale, pointed
    at the generated file of ``name`` (the paper path through a local file); {} for anything else."""
    from pad_core.models.torchvision_names import TORCHVISION, TV_BACKBONES, is_torchvision

    if not is_torchvision(name) or not TV_BACKBONES.get(name).imagenet:
        return {}
    if flat.get("backbone.imagenet_weights", TORCHVISION) != TORCHVISION:
        return {}
    return {"backbone.imagenet_weights": weights_file(name)}
