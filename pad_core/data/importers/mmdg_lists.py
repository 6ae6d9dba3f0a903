"""The MMDG benchmark lists (``MMDG-Benchmark/{C,P,S,W}-{train,val,test}.txt``) -> one aligned RGB/depth/IR manifest.

Published with "Suppress and Rebalance: Towards Generalized Multi-Modal Face Anti-Spoofing" (Lin et al., CVPR
2024) in github.com/lxbuaa/mmdg_plus_plus, folder MMDG-Benchmark. A line is ``<rgb> <depth> <ir> <label>``
(paths relative to the folder holding MMDG-Benchmark/, label 1 = live, 0 = attack; CRLF endings as published).
A tab-separated line may leave the depth or IR field empty: that modality is absent for the sample (the
manifest's empty cell). The published P lists instead name MMDG's own PADISI-Face ``.npz`` files (``<hash>.npz
<TAB><label>``) whose content is not published: they are refused with the fix to extract RGB/depth/IR images
and write P lines in the form above.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pad_core.data.importers.base import ImportProblems, files_under
from pad_core.data.importers.mmdg_names import DEVICES, Facts, read_name

LIST_DIR = "MMDG-Benchmark"
SETS = ("C", "P", "S", "W")
LIST_SPLITS = {"train": "train", "val": "dev", "test": "test"}
LIST_LABELS = {"1": 1, "0": 0}
MODALITY_FOLDERS = {"path_depth": "depth", "path_ir": "ir"}


@dataclass(frozen=True)
class Line:
    where: str  # "<list file>:<line number>", for the report
    fields: tuple[str, ...]


def read_lines(path: Path, shown: str) -> list[Line]:
    """Non-blank lines of a list file; fields split on tabs (empty fields kept) or else on any whitespace."""
    out = []
    for number, text in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        text = text.strip("\r\n ")
        if not text.strip():
            continue
        fields = tuple(f.strip() for f in text.split("\t")) if "\t" in text else tuple(text.split())
        out.append(Line(f"{shown}:{number}", fields))
    return out


def modality_files(root: Path, line: Line, problems: ImportProblems) -> dict[str, str] | None:
    """``{"path": rgb, "path_depth": ..., "path_ir": ...}`` (absolute; "" = absent), or None after reporting."""
    rgb, depth, ir = line.fields[:3]
    if not rgb:
        problems.other.append(f"{line.where}: no RGB file (every sample needs its RGB image)")
        return None
    files = {"path": rgb, "path_depth": depth, "path_ir": ir}
    missing = [f"{line.where}: {rel}" for rel in files.values() if rel and not (root / rel).is_file()]
    problems.missing_files.extend(missing)
    return None if missing else {column: str(root / rel) if rel else "" for column, rel in files.items()}


def aligned(files: dict[str, str], root: Path) -> str:
    """"" when depth/IR frames sit in the RGB frame's video folder (``<video>/<color|profile>/f`` ->
    ``<video>/<depth|ir>/...``), else what is wrong."""
    video = Path(files["path"]).parent.parent
    for column, folder in MODALITY_FOLDERS.items():
        other = files[column]
        if other and (Path(other).parent.parent != video or Path(other).parent.name != folder):
            return f"{column} {Path(other).relative_to(root)} is not in the RGB frame's video folder ({folder}/)"
    return ""


def sample_row(subset: str, split: str, label: int, files: dict[str, str], facts: Facts) -> dict:
    attack = facts.attack_type or ("none" if label == 1 else "unknown")
    return {"path": files["path"], "label": label, "attack_type": attack, "subset": subset,
            "device": DEVICES[subset], "split": split, "subject": facts.subject, "path_depth": files["path_depth"],
            "path_ir": files["path_ir"], "video": facts.video, "pai": facts.pai}


def consistent(facts: Facts, label: int, split: str, where: str, problems: ImportProblems) -> bool:
    """The list's label and split against what the file name says (a mislabelled line is reported)."""
    wrong = []
    if facts.label is not None and facts.label != label:
        wrong.append(f"the list says label {label} but the name says {facts.label}")
    if facts.split is not None and facts.split != split:
        wrong.append(f"the list puts it in {split} but the name says {facts.split}")
    problems.other.extend(f"{where}: {w}" for w in wrong)
    return not wrong


def once_each(rows: list[dict], where: list[str], problems: ImportProblems) -> list[dict]:
    """An RGB file on two list lines (two labels or two splits for one image) is reported; the first is kept."""
    first: dict[str, str] = {}
    kept = []
    for row, at in zip(rows, where):
        if row["path"] in first:
            problems.other.append(f"{at}: {row['path']} is also listed at {first[row['path']]}")
            continue
        first[row["path"]] = at
        kept.append(row)
    return kept


def unlisted(root: Path, rows: list[dict], skip: set[Path], problems: ImportProblems) -> None:
    """Files under ``root`` that no list line names (lists and ``skip`` folders aside) -> unknown files."""
    named = {p for r in rows for c in ("path", "path_depth", "path_ir") if (p := r.get(c))}
    for f in files_under(root, problems=problems):
        if str(f) not in named and not any(f.is_relative_to(s) for s in skip):
            problems.unknown_files.append(str(f))


def scan_benchmark(root: Path, options, problems: ImportProblems) -> list[dict]:
    """ROOT/MMDG-Benchmark/{C,P,S,W}-{train,val,test}.txt and the image trees the lines name -> manifest rows."""
    rows, where = [], []
    for subset in SETS:
        for name, split in LIST_SPLITS.items():
            shown = f"{LIST_DIR}/{subset}-{name}.txt"
            if not (root / shown).is_file():
                problems.missing_files.append(f"{root / shown} (the MMDG list of {subset} {name})")
                continue
            for line in read_lines(root / shown, shown):
                row = list_row(root, subset, split, line, problems)
                if row is not None:
                    rows.append(row)
                    where.append(line.where)
    unlisted(root, rows, {root / LIST_DIR}, problems)
    return once_each(rows, where, problems)


def list_row(root: Path, subset: str, split: str, line: Line, problems: ImportProblems) -> dict | None:
    """One list line -> a row, or None after reporting why not."""
    if len(line.fields) == 2 and line.fields[0].endswith(".npz"):
        problems.other.append(f"{line.where}: {line.fields[0]} is an MMDG .npz file (its content is not "
                              "published); extract its RGB, depth and IR images and list them as "
                              "'<rgb> <depth> <ir> <label>'")
        return None
    if len(line.fields) != 4:
        problems.other.append(f"{line.where}: {len(line.fields)} fields; expected '<rgb> <depth> <ir> <label>'")
        return None
    if line.fields[3] not in LIST_LABELS:
        problems.unknown_labels.append(f"{line.where} {line.fields[0]}: {line.fields[3]!r} (1 = live, 0 = attack)")
        return None
    files = modality_files(root, line, problems)
    if files is None:
        return None
    label = LIST_LABELS[line.fields[3]]
    video = Path(line.fields[0]).parent.parent.as_posix() if subset != "P" else ""
    facts = read_name(subset, line.fields[0], video)
    problem = facts if isinstance(facts, str) else (aligned(files, root) if subset != "P" else "")
    if problem:
        problems.other.append(f"{line.where}: {line.fields[0]}: {problem}")
        return None
    if not consistent(facts, label, split, line.where, problems):
        return None
    return sample_row(subset, split, label, files, facts)
