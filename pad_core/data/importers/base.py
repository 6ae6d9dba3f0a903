"""What every dataset importer shares: the registry, the problems it must report, and writing the manifest.

An importer walks a dataset as it was downloaded (its published folder layout and protocol files) and returns
manifest rows. It never drops or guesses: a file it cannot place, a protocol entry whose file is missing, a label
word it does not know and a subject on both sides of a split are collected as :class:`ImportProblems` and refused
together, each with its paths (``--skip-unknown`` lets unknown files be left out, still listed in the report).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pad_core.data.manifest import REQUIRED_COLUMNS, validate_frame
from pad_core.data.protocols import SPLIT_PREFIX
from pad_core.errors import DataError
from pad_core.registry import Registry

EXAMPLES = 5  # paths shown per kind of problem in the error (all of them go to the report file)
KEY = "import"


@dataclass(frozen=True)
class ImportOptions:
    out: Path  # the manifest to write (.parquet or .csv); image paths are stored relative to its folder
    frames_per_video: int = 8  # k frames sampled per video (uniform spacing, seeded offset)
    seed: int = 0  # frame-sampling seed
    faces: str = "none"  # "shipped" (the dataset's boxes/landmarks), a detector name (e.g. "haar"), or "none"
    face_margin: float = 0.2  # crop margin around a face box, as a fraction of its side
    crop_size: int = 256  # side of the saved face crops and video frames, pixels (0 = keep the original size)
    skip_unknown: bool = False  # leave files the layout does not explain out of the manifest (listed in the report)


@dataclass
class ImportProblems:
    """Everything an importer could not place; refused together (see :meth:`raise_if_any`)."""

    unknown_files: list[str] = field(default_factory=list)  # files the layout does not explain
    missing_files: list[str] = field(default_factory=list)  # protocol-list entries whose file is absent
    unknown_labels: list[str] = field(default_factory=list)  # "path: word" for label words not understood
    split_subjects: list[str] = field(default_factory=list)  # "subject: split_a path | split_b path"
    other: list[str] = field(default_factory=list)  # anything else, "path: what is wrong"
    no_face: list[str] = field(default_factory=list)  # "path: why" for images the face step could not crop

    def kinds(self, skip_unknown: bool) -> dict[str, list[str]]:
        found = {"files the layout does not explain": [] if skip_unknown else self.unknown_files,
                 "protocol entries whose file is missing": self.missing_files,
                 "label words the importer does not know": self.unknown_labels,
                 "subjects on both sides of a split": self.split_subjects,
                 "other problems": self.other, "images without a face crop": self.no_face}
        return {k: v for k, v in found.items() if v}

    def report(self) -> str:
        sections = {"unknown files": self.unknown_files, "missing files": self.missing_files,
                    "unknown labels": self.unknown_labels, "subjects in two splits": self.split_subjects,
                    "other": self.other, "no face crop": self.no_face}
        return "".join(f"# {name} ({len(items)})\n" + "".join(f"{i}\n" for i in items)
                       for name, items in sections.items() if items)

    def raise_if_any(self, dataset: str, root: Path, report_path: Path, skip_unknown: bool) -> None:
        kinds = self.kinds(skip_unknown)
        if not kinds:
            return
        report_path.write_text(self.report())
        summary = "; ".join(f"{len(v)} {k} (e.g. {v[:EXAMPLES]})" for k, v in kinds.items())
        fix = (f"the full list is in {report_path}; check the download against the layout `python -m pad_core import "
               f"{dataset} --help` describes")
        if "files the layout does not explain" in kinds:
            fix += ", or pass --skip-unknown to leave unknown files out (they stay listed in the report)"
        if self.no_face:
            from pad_core.data.faces import PRE_CROP_FIX  # imported on use: faces imports this module

            fix += f"; for the images without a face crop: {PRE_CROP_FIX}"
        raise DataError(KEY, str(root), summary, fix)


@dataclass(frozen=True)
class Importer:
    name: str  # registry name, the DATASET argument of `python -m pad_core import`
    benchmark: str  # protocol family (pad_core/data/protocol_defs/<benchmark>.json) the manifest serves
    layout: str  # the folder layout and protocol-file syntax it reads, as published
    source: str  # where that layout is published (paper, download page, challenge)
    scan: Callable[[Path, ImportOptions, ImportProblems], list[dict]]  # root -> manifest rows (absolute paths)
    # whether its rows carry the dataset's own face boxes (face_box) for --faces shipped, and, when they do not,
    # what the dataset ships and why padsweep does not read it (said when --faces shipped is refused)
    reads_face_boxes: bool = False
    faces_note: str = "the layout it reads carries no face boxes that padsweep knows of"


IMPORTERS: Registry[Importer] = Registry("dataset importer")


def register(importer: Importer) -> Importer:
    return IMPORTERS.register(importer.name)(importer)


def run_import(name: str, root: str | os.PathLike, options: ImportOptions) -> pd.DataFrame:
    """Scan ``root`` with importer ``name``, refuse on any problem, write and return the manifest."""
    importer = IMPORTERS.get(name)
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DataError(KEY, str(root), "not a folder", f"give the folder the {name} download was unpacked to")
    out = options.out.expanduser().resolve()
    if out.suffix not in (".parquet", ".csv"):
        raise DataError("--out", str(out), "unknown manifest format", "end the file name in .parquet or .csv")
    from pad_core.data.faces import PRE_CROP_FIX, crop_faces, face_step  # on use: faces imports this module

    if options.faces != "none":
        face_step(options.faces)  # an unknown --faces value is refused before the (long) scan
    if options.faces == "shipped" and not importer.reads_face_boxes:  # before the scan too, saying what is shipped
        raise DataError("--faces", "shipped", f"the {name} importer reads no shipped face boxes: "
                        f"{importer.faces_note}", PRE_CROP_FIX)
    problems = ImportProblems()
    rows = importer.scan(root, options, problems)
    report = report_path(out)
    own = {str(p) for p in own_outputs(out)}  # a rerun's own earlier outputs, wherever --out put them inside ROOT
    problems.unknown_files = [f for f in problems.unknown_files if str(Path(f).resolve()) not in own]
    subjects_on_both_sides(rows, problems)
    rows = crop_faces(rows, options, out.parent, problems)
    problems.raise_if_any(name, root, report, options.skip_unknown)
    frame = to_frame(rows, out.parent, name)
    validate_frame(frame.copy(), str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False) if out.suffix == ".parquet" else frame.to_csv(out, index=False)
    return frame


def report_path(out: Path) -> Path:
    """Where an import's problems are listed: next to the manifest it would write."""
    out = out.expanduser().resolve()
    return out.with_name(out.stem + ".problems.txt")


def own_outputs(out: Path) -> set[Path]:
    """The manifest an import writes and its problems report: a rerun must not read them as dataset files."""
    return {out.expanduser().resolve(), report_path(out)}


def to_frame(rows: list[dict], folder: Path, name: str) -> pd.DataFrame:
    """Rows with absolute file paths -> a manifest frame with paths relative to ``folder`` (which must hold them)."""
    if not rows:
        raise DataError(KEY, name, "found no samples", "check that ROOT is the top folder of the download")
    frame = pd.DataFrame(rows)
    for column in [c for c in frame.columns if c == "path" or c.startswith("path_")]:
        frame[column] = [relative(p, folder) if p else "" for p in frame[column]]
    first = [c for c in REQUIRED_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def relative(path: str | os.PathLike, folder: Path) -> str:
    # abspath, not resolve(): a file reached through a followed symbolic link keeps the path it was reached by, so
    # a download linked in from another disk stays under the manifest's folder; a real ".." escape is still refused
    rel = os.path.relpath(os.path.abspath(path), folder)
    if rel == ".." or rel.startswith("../"):
        raise DataError("--out", str(folder), f"the manifest's folder does not hold {path} (manifest paths are "
                        "relative to it and may not leave it)", "write the manifest into the dataset's root folder "
                        "or one above it (the default --out is ROOT/padsweep_manifest.parquet)")
    return Path(rel).as_posix()


def subjects_on_both_sides(rows: Iterable[dict], problems: ImportProblems) -> None:
    """Every split column (``split`` and per-protocol ``split@<protocol>``): a known subject in two of its splits."""
    rows = list(rows)
    columns = sorted({c for r in rows for c in r if c == "split" or c.startswith(SPLIT_PREFIX)})
    for column in columns:
        seen: dict[str, dict[str, str]] = {}
        for r in rows:
            subject, split = str(r.get("subject", "")), str(r.get(column, ""))
            if subject and split:
                seen.setdefault(subject, {}).setdefault(split, str(r["path"]))
        for subject, splits in sorted(seen.items()):
            if len(splits) > 1:
                where = " | ".join(f"{s} {p}" for s, p in sorted(splits.items()))
                problems.split_subjects.append(f"{column} {subject}: {where}")


def files_under(root: Path, suffixes: tuple[str, ...] = (), problems: ImportProblems | None = None) -> list[Path]:
    """Every regular file under ``root`` (sorted; hidden files and our own outputs excluded).

    Symbolic links to folders are followed (downloads spread over several disks are linked into one tree), and
    each file keeps the path it was reached by. A folder reached a second time (a link to a folder already walked,
    or a loop back to an ancestor) is not walked again; it is reported in ``problems`` when given, since its files
    then count under the first path only (two subset folders linking one download would otherwise look complete)."""
    out: list[Path] = []
    walked: dict[str, str] = {}  # resolved folder -> the path it was first walked by
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in walked:  # a second link to one folder, or a loop: os.walk would go round it forever
            dirnames[:] = []
            if problems is not None:
                problems.other.append(f"{dirpath}: the same folder as {walked[real]} (through a symbolic link); its "
                                      "files are read once, under the first path: remove the extra link")
            continue
        walked[real] = dirpath
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != OUTPUT_DIR)
        for f in sorted(filenames):
            if f.startswith(".") or f.startswith("padsweep_manifest"):
                continue
            if not suffixes or f.lower().endswith(suffixes):
                out.append(Path(dirpath) / f)
    return out


OUTPUT_DIR = "padsweep_import"  # frames and face crops the importers write, inside the manifest's folder
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".3gp", ".mpg", ".mpeg", ".wmv")
