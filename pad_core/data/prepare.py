"""From a data config to the validated train/dev/test rows of one protocol (all checks before training)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pad_core.config.schema import DataCfg
from pad_core.data import checks, synthetic
from pad_core.data.images import PROBLEMS, ImageFacts
from pad_core.data.manifest import (
    VIDEO,
    Manifest,
    carve_dev,
    check_files_exist,
    file_columns,
    inspect_files,
    read_manifest,
)
from pad_core.data.protocols import Benchmark, Protocol, load_benchmark, resolve_score_level
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
    membership: str = "split"  # the manifest column the protocol's train/dev/test came from (split@<protocol>)

    def split(self, name: str) -> pd.DataFrame:
        return {"train": self.train, "dev": self.dev, "test": self.test}[name]


def resolve_manifest_uri(cfg: DataCfg) -> str:
    if synthetic.is_synthetic(cfg.manifest):
        return synthetic.materialize(cfg.manifest, scale=cfg.synth_scale, size=cfg.synth_size, seed=cfg.synth_seed)
    return cfg.manifest


def _require_classes(frame: pd.DataFrame, split: str, protocol: str, uri: str, needed: bool, column: str) -> None:
    if frame.empty:
        raise DataError("data.protocol", protocol, f"the {split} split selects no rows of {uri} (membership from "
                        f"column {column!r})", "check the manifest's split/subset columns (or split@" + protocol
                        + ") against the protocol definition")
    if needed and frame["label"].nunique() < 2:
        only = frame["label"].iloc[0]
        raise DataError("data.protocol", protocol, f"the {split} split of {uri} has only label {only}",
                        f"the {split} rows need both bona fide (1) and attack (0) samples")


def membership_view(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The manifest as one protocol sees it: ``split`` holds that protocol's membership (its ``split@`` column), so
    carving dev, selecting rows and every check work on it unchanged; "" = not in the protocol."""
    return frame if column == "split" else frame.assign(split=frame[column])


def prepare(cfg: DataCfg, *, check_files: bool = True, need_dev: bool = True,
            verify_images: bool = True) -> ProtocolData:
    """Read and validate the manifest, take the protocol's membership column, carve dev if missing, select the
    protocol's rows, check them (pad_core.data.checks: duplicates, labels, unselected values, leakage of images,
    subjects and videos) and their files, and print the protocol's counts. Findings that do not refuse
    (overridden ones, unknown subjects) are printed and kept in ``notes``."""
    benchmark = load_benchmark(cfg.benchmark)
    protocol = benchmark.protocol(cfg.protocol)
    manifest = read_manifest(resolve_manifest_uri(cfg), split_columns=tuple(sorted(benchmark.split_columns())))
    checks.require_selector_columns(manifest.frame, benchmark, manifest.uri)
    checks.membership_columns(manifest.frame, benchmark, manifest.uri)
    column = protocol.membership(manifest.frame.columns)
    manifest.frame = carve_dev(membership_view(manifest.frame, column), cfg.dev_fraction, cfg.synth_seed,
                               benchmark.carve_dev)
    parts = {split: protocol.rows(manifest.frame, split) for split in ("train", "dev", "test")}
    _require_classes(parts["train"], "train", cfg.protocol, manifest.uri, True, column)
    _require_classes(parts["test"], "test", cfg.protocol, manifest.uri, True, column)
    _require_classes(parts["dev"], "dev", cfg.protocol, manifest.uri, need_dev, column)
    notes = check_rows(cfg, manifest, benchmark, parts)
    skipped: list[str] = []
    if check_files:
        check_files_exist(manifest, pd.concat(parts.values()))
        # with on_corrupt=skip every reader needs the list; with fail, one verification (preflight) is enough
        if verify_images or cfg.on_corrupt == "skip":
            parts, skipped, facts = corrupt_policy(manifest, parts, cfg.on_corrupt, sample=cfg.verify_sample)
            notes += checks.shared_content(parts, facts, manifest.uri, cfg.protocol, cfg.allow_overlap)
    print(f"[padsweep] data: {protocol_counts(parts, cfg.protocol, column)}", flush=True)
    for note in notes:
        print(f"[padsweep] data: {note}", flush=True)
    return ProtocolData(manifest, protocol, **parts, skipped=skipped, notes=notes, membership=column)


def protocol_counts(parts: dict[str, pd.DataFrame], protocol: str, column: str) -> str:
    """``protocol P2.1 (membership: split@P2.1): train 120 rows, 12 subjects, 60 bona fide / 60 attack; ...``"""
    said = []
    for name, frame in parts.items():
        live = int((frame["label"] == 1).sum())
        videos = f", {frame.loc[frame[VIDEO] != '', VIDEO].nunique()} videos" if VIDEO in frame.columns else ""
        said.append(f"{name} {len(frame)} rows, {frame.loc[frame['subject'] != '', 'subject'].nunique()} subjects"
                    f"{videos}, {live} bona fide / {len(frame) - live} attack")
    return f"protocol {protocol} (membership: {column}): {'; '.join(said)}"


def score_level(cfg, data: ProtocolData) -> str:
    """The unit a run's metrics count (``eval.score_level``, "protocol" = the protocol's own), checked against the
    prepared rows: scoring per video needs video ids (refused before any trial otherwise)."""
    level = resolve_score_level(cfg.eval.score_level, data.protocol)
    said = ("eval.score_level", level) if cfg.eval.score_level != "protocol" else ("data.protocol", cfg.data.protocol)
    for note in checks.score_level_data({"dev": data.dev, "test": data.test}, level, data.manifest.uri,
                                        data.protocol.name, said):
        print(f"[padsweep] data: {note}", flush=True)
    return level


def check_rows(cfg: DataCfg, manifest: Manifest, benchmark: Benchmark, parts: dict[str, pd.DataFrame]) -> list[str]:
    """The manifest-level and protocol-level checks that need no file; refuses, or returns the notes."""
    frame, uri = manifest.frame, manifest.uri
    checks.duplicate_images(frame, uri)
    checks.label_convention(frame, uri)
    checks.video_consistency(frame, uri)
    protocol = benchmark.protocol(cfg.protocol)
    notes = checks.unselected_values(frame, benchmark, protocol, uri, cfg.allow_unselected)  # a typo first: says which
    notes += checks.absent_values(frame, benchmark, protocol, parts, uri, cfg.allow_missing_values)
    notes += checks.shared_images(parts, uri, cfg.protocol, cfg.allow_overlap)
    notes += checks.shared_videos(parts, uri, cfg.protocol, cfg.allow_overlap)
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
