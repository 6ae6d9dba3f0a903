"""From a data config to the validated train/dev/test rows of one protocol (all checks before training)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pad_core.config.schema import DataCfg
from pad_core.data import synthetic
from pad_core.data.manifest import Manifest, carve_dev, check_files_exist, file_columns, read_manifest, unreadable_files
from pad_core.data.protocols import Protocol, load_benchmark
from pad_core.errors import DataError


@dataclass
class ProtocolData:
    manifest: Manifest
    protocol: Protocol
    train: pd.DataFrame
    dev: pd.DataFrame
    test: pd.DataFrame
    skipped: list[str] = field(default_factory=list)  # unreadable files left out (data.on_corrupt=skip)

    def split(self, name: str) -> pd.DataFrame:
        return {"train": self.train, "dev": self.dev, "test": self.test}[name]


def resolve_manifest_uri(cfg: DataCfg) -> str:
    if synthetic.is_synthetic(cfg.manifest):
        return synthetic.materialize(cfg.manifest, scale=cfg.synth_scale, size=cfg.synth_size, seed=cfg.synth_seed)
    return cfg.manifest


def _require_classes(frame: pd.DataFrame, split: str, protocol: str, uri: str, needed: bool) -> None:
    if frame.empty:
        raise DataError("data.protocol", protocol, f"the {split} split selects no rows of {uri}",
                        "check the manifest's split/subset columns against the protocol definition")
    if needed and frame["label"].nunique() < 2:
        only = frame["label"].iloc[0]
        raise DataError("data.protocol", protocol, f"the {split} split of {uri} has only label {only}",
                        f"the {split} rows need both bona fide (1) and attack (0) samples")


def prepare(cfg: DataCfg, *, check_files: bool = True, need_dev: bool = True,
            verify_images: bool = True) -> ProtocolData:
    """Read and validate the manifest, carve dev if missing, select the protocol's rows, check files."""
    manifest = read_manifest(resolve_manifest_uri(cfg))
    protocol = load_benchmark(cfg.benchmark).protocol(cfg.protocol)
    manifest.frame = carve_dev(manifest.frame, cfg.dev_fraction, cfg.synth_seed)
    parts = {split: protocol.rows(manifest.frame, split) for split in ("train", "dev", "test")}
    _require_classes(parts["train"], "train", cfg.protocol, manifest.uri, needed=True)
    _require_classes(parts["test"], "test", cfg.protocol, manifest.uri, needed=True)
    _require_classes(parts["dev"], "dev", cfg.protocol, manifest.uri, needed=need_dev)
    skipped: list[str] = []
    if check_files:
        check_files_exist(manifest, pd.concat(parts.values()))
        # with on_corrupt=skip every reader needs the list; with fail, one verification (preflight) is enough
        if verify_images or cfg.on_corrupt == "skip":
            parts, skipped = corrupt_policy(manifest, parts, cfg.on_corrupt, sample=cfg.verify_sample)
    return ProtocolData(manifest, protocol, **parts, skipped=skipped)


def corrupt_policy(manifest: Manifest, parts: dict[str, pd.DataFrame], policy: str, *, sample: int = 0):
    """(parts, skipped paths) after checking every image (or ``sample`` of them) decodes; ``fail`` raises."""
    if policy == "unchecked":
        return parts, []
    bad = unreadable_files(manifest, pd.concat(parts.values()), sample=sample)
    if bad and policy == "fail":
        raise DataError("data.manifest", manifest.uri, f"{len(bad)} image files cannot be decoded, e.g. {bad[:3]}",
                        "replace or remove them, or set data.on_corrupt=skip to train without them")
    if not bad:
        return parts, []
    keep = {name: frame[~frame[file_columns(frame)].isin(bad).any(axis=1)] for name, frame in parts.items()}
    return keep, bad
