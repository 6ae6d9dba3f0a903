"""From a data config to the validated train/dev/test rows of one protocol (all checks before training)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pad_core.config.schema import DataCfg
from pad_core.data import checks, synthetic
from pad_core.data.images import PROBLEMS, ImageFacts
from pad_core.data.manifest import Manifest, carve_dev, check_files_exist, file_columns, inspect_files, read_manifest
from pad_core.data.protocols import Benchmark, Protocol, load_benchmark
from pad_core.errors import DataError


@dataclass
class ProtocolData:
    manifest: Manifest
    protocol: Protocol
    train: pd.DataFrame
    dev: pd.DataFrame
    test: pd.DataFrame
    skipped: list[str] = field(default_factory=list)  # unreadable files left out (data.on_corrupt=skip)
    notes: list[str] = field(default_factory=list)  # findings that did not refuse (overridden, unknown subjects)

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
    """Read and validate the manifest, carve dev if missing, select the protocol's rows, check them (pad_core.data
    .checks: duplicates, labels, unselected values, leakage) and their files. Findings that do not refuse
    (overridden ones, unknown subjects) are printed and kept in ``notes``."""
    manifest = read_manifest(resolve_manifest_uri(cfg))
    benchmark = load_benchmark(cfg.benchmark)
    protocol = benchmark.protocol(cfg.protocol)
    checks.require_selector_columns(manifest.frame, benchmark, manifest.uri)
    manifest.frame = carve_dev(manifest.frame, cfg.dev_fraction, cfg.synth_seed)
    parts = {split: protocol.rows(manifest.frame, split) for split in ("train", "dev", "test")}
    _require_classes(parts["train"], "train", cfg.protocol, manifest.uri, needed=True)
    _require_classes(parts["test"], "test", cfg.protocol, manifest.uri, needed=True)
    _require_classes(parts["dev"], "dev", cfg.protocol, manifest.uri, needed=need_dev)
    notes = check_rows(cfg, manifest, benchmark, parts)
    skipped: list[str] = []
    if check_files:
        check_files_exist(manifest, pd.concat(parts.values()))
        # with on_corrupt=skip every reader needs the list; with fail, one verification (preflight) is enough
        if verify_images or cfg.on_corrupt == "skip":
            parts, skipped, facts = corrupt_policy(manifest, parts, cfg.on_corrupt, sample=cfg.verify_sample)
            notes += checks.shared_content(parts, facts, manifest.uri, cfg.protocol, cfg.allow_overlap)
    for note in notes:
        print(f"[padsweep] data: {note}", flush=True)
    return ProtocolData(manifest, protocol, **parts, skipped=skipped, notes=notes)


def check_rows(cfg: DataCfg, manifest: Manifest, benchmark: Benchmark, parts: dict[str, pd.DataFrame]) -> list[str]:
    """The manifest-level and protocol-level checks that need no file; refuses, or returns the notes."""
    frame, uri = manifest.frame, manifest.uri
    checks.duplicate_images(frame, uri)
    checks.label_convention(frame, uri)
    notes = checks.unselected_values(frame, benchmark, benchmark.protocol(cfg.protocol), uri, cfg.allow_unselected)
    notes += checks.shared_images(parts, uri, cfg.protocol, cfg.allow_overlap)
    return notes + checks.shared_subjects(parts, uri, cfg.protocol, cfg.allow_subject_overlap)


def corrupt_policy(manifest: Manifest, parts: dict[str, pd.DataFrame], policy: str, *, sample: int = 0):
    """(parts, skipped paths, ImageFacts by path) after checking every image (or ``sample`` of them) is usable:
    decodes, at least MIN_IMAGE_SIDE a side, at most MAX_IMAGE_PIXELS (pad_core.data.images); ``fail`` raises."""
    if policy == "unchecked":
        return parts, [], {}
    facts = inspect_files(manifest, pd.concat(parts.values()), sample=sample)
    bad = [rel for rel, fact in facts.items() if fact.problem]
    if bad and policy == "fail":
        raise DataError("data.manifest", manifest.uri, _unusable(facts),
                        "replace or remove them, or set data.on_corrupt=skip to train without them")
    if not bad:
        return parts, [], facts
    keep = {name: frame[~frame[file_columns(frame)].isin(bad).any(axis=1)] for name, frame in parts.items()}
    return keep, bad, facts


def _unusable(facts: dict[str, ImageFacts]) -> str:
    """``N image files cannot be decoded, e.g. [...]; M image files are smaller than ...`` by problem."""
    found = []
    for problem, said in PROBLEMS.items():
        paths = [rel for rel, fact in facts.items() if fact.problem == problem]
        if paths:
            examples = paths[:3] if problem == "undecodable" else [f"{p} ({facts[p].describe()})" for p in paths[:3]]
            found.append(f"{len(paths)} image files {said}, e.g. {examples}")
    return "; ".join(found)
