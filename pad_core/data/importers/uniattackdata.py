"""UniAttackData as released for the CVPR 2024 Unified Physical-Digital Attack Detection challenge.

The release (Fang et al., arXiv 2401.17699; Yuan et al., CVPRW 2024) comes in two phase folders. Each holds one
folder per protocol (p1, p2.1, p2.2) with numbered face images per split and list files: phase1 has
``train/`` + ``train_label.txt`` and ``dev/`` + ``dev.txt`` (no labels); phase2 adds ``test/`` + ``test.txt`` and
``dev_label.txt``. A labelled line is ``<path> <label>`` with label 0 = live, 1 = fake (the organisers' CodaLab
forum, "Label: live=0, fake=1"); padsweep stores the opposite convention (1 = bona fide). Every protocol has its own
copy of its images, so one row per file: a file belongs to one protocol, and its ``split@<protocol>`` column is
the only one set. Lists name no attack species, so attack rows carry what the protocol tells: P2.1 (unseen
physical) trains on digital and tests on physical attacks, P2.2 the reverse, P1 mixes both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pad_core.data.importers.base import Importer, ImportOptions, ImportProblems, files_under, register
from pad_core.data.protocols import SPLIT_PREFIX

PROTOCOLS = {"p1": "P1", "p2.1": "P2.1", "p2.2": "P2.2"}  # release folder -> protocol name (protocol_defs)
FOLDER_OF = {name: folder for folder, name in PROTOCOLS.items()}
PHASES = ("phase1", "phase2")
SPLITS = ("train", "dev", "test")
LABELLED_LISTS = {f"{s}_label.txt": s for s in SPLITS}
UNLABELLED_LISTS = {f"{s}.txt": s for s in SPLITS}
LIVE, FAKE = "0", "1"  # the release's label words
# attack category of a protocol's attack rows per split; dev composition is not published in a source we could
# read (the top team merged only dev live images into training, which suggests dev holds the unseen category)
CATEGORY = {"P1": {"train": "unknown", "dev": "unknown", "test": "unknown"},
            "P2.1": {"train": "digital", "dev": "unknown", "test": "physical"},
            "P2.2": {"train": "physical", "dev": "unknown", "test": "digital"}}

LAYOUT = (
    "ROOT/phase1/<p>/{train/, dev/, train_label.txt, dev.txt} and ROOT/phase2/<p>/{test/, test.txt, dev_label.txt, "
    "test_label.txt} for <p> in p1, p2.1, p2.2 (or the phases merged: ROOT/<p>/...). Lists: one image per line, "
    "'<path> <label>' in *_label.txt (0 = live, 1 = fake, as released) or '<path>' in train/dev/test.txt; <path> "
    "relative to the phase folder ('p1/train/000001.jpg') or to the protocol folder ('train/000001.jpg'). Every "
    "image must be in a list of its protocol and every listed image must be labelled (an unlabelled split, e.g. "
    "test without test_label.txt, is refused); any other file (a list you merged yourself, e.g. "
    "train_dev_label.txt) is reported as unknown (--skip-unknown leaves it out). Rows: one per file, with "
    "split@P1/split@P2.1/split@P2.2 set for its own protocol only (split = the same), subset = its protocol "
    "folder, subject and device empty (not released), attack_type none / unknown_physical / unknown_digital / "
    "unknown and attack_category none / physical / digital / unknown as the protocol tells (P2.1 train: digital, "
    "test: physical; P2.2 the reverse; dev and P1: unknown)."
)
SOURCE = ("Fang et al., Unified Physical-Digital Face Attack Detection (IJCAI 2024, arXiv 2401.17699); 5th ChaLearn "
          "FAS challenge @ CVPR 2024 (CodaLab forum: lists and 'live=0, fake=1'; challenge code of the winning "
          "team). Not verified: the attack categories of the P2.1/P2.2 dev sets, and whether test labels are "
          "named test_label.txt")


@dataclass(frozen=True)
class Entry:
    protocol: str  # "P1", "P2.1", "P2.2"
    split: str
    label: str  # "0"/"1" as released, or "" from an unlabelled list
    where: str  # "list file:line" for messages


def scan(root: Path, options: ImportOptions, problems: ImportProblems) -> list[dict]:
    bases = phase_folders(root)
    entries, reported = read_lists(bases, problems)
    explained = {lst for base in bases for lst in list_files(base)} | reported
    rows = []
    for path in files_under(root, problems=problems):
        if path in explained:
            continue
        entry = entries.pop(path, None)
        if entry is None:
            problems.unknown_files.append(f"{path}: in no list of {'/'.join(PROTOCOLS)}")
        elif entry.label == "":
            problems.other.append(f"{path}: listed only unlabelled ({entry.where}); no {entry.split}_label.txt "
                                  "labels it")
        else:
            rows.append(row_of(path, entry))
    # a listed file the walk never reached (a hidden folder, a second link to one folder) would vanish silently
    problems.missing_files += [f"{entry.where}: {path} is listed and exists but was not reached walking ROOT "
                               "(hidden or repeated folder)" for path, entry in sorted(entries.items())]
    return rows


def phase_folders(root: Path) -> list[Path]:
    """The folders that hold the protocol folders: ROOT/phase1 and ROOT/phase2 as released, or ROOT if merged."""
    phases = [root / p for p in PHASES if (root / p).is_dir()]
    return phases or [root]


def list_files(base: Path) -> list[Path]:
    return [base / p / name for p in PROTOCOLS for name in [*LABELLED_LISTS, *UNLABELLED_LISTS]
            if (base / p / name).is_file()]


def read_lists(bases: list[Path], problems: ImportProblems) -> tuple[dict[Path, Entry], set[Path]]:
    """(listed image path, under its phase folder -> its entry, files whose list line was reported); labelled lists
    win over unlabelled ones for the same file. A file with a bad line is reported for that line only, not again as
    unlisted."""
    entries: dict[Path, Entry] = {}
    reported: set[Path] = set()
    for base in bases:
        for lst in list_files(base):
            folder, split = lst.parent.name, {**LABELLED_LISTS, **UNLABELLED_LISTS}[lst.name]
            labelled = lst.name in LABELLED_LISTS
            for number, line in enumerate(lst.read_text(encoding="utf-8-sig").splitlines(), start=1):
                fields = line.split()
                if not fields:
                    continue
                where = f"{lst}:{number}"
                entry = parse_line(fields, labelled, PROTOCOLS[folder], split, where, problems)
                path = resolve(fields[0], folder, bases)
                if entry is None:
                    reported.add(path)
                elif path is None:
                    problems.missing_files.append(f"{where}: {fields[0]}")
                else:
                    merge(entries, path, entry, problems)
    return entries, reported


def parse_line(fields: list[str], labelled: bool, protocol: str, split: str, where: str,
               problems: ImportProblems) -> Entry | None:
    if len(fields) != (2 if labelled else 1):
        problems.other.append(f"{where}: {' '.join(fields)!r} is not '<path>{' <label>' if labelled else ''}'")
        return None
    label = fields[1] if labelled else ""
    if labelled and label not in (LIVE, FAKE):
        problems.unknown_labels.append(f"{where}: {fields[0]} {label}")
        return None
    head = PurePosixPath(fields[0]).parts[0].lower()
    if head in PROTOCOLS and PROTOCOLS[head] != protocol:
        problems.other.append(f"{where}: {fields[0]} belongs to {PROTOCOLS[head]}, listed for {protocol}")
        return None
    return Entry(protocol, split, label, where)


def resolve(listed: str, folder: str, bases: list[Path]) -> Path | None:
    """The listed file, relative to a phase folder or to the protocol folder (phase1's images serve phase2's lists)."""
    rel = PurePosixPath(listed)
    if rel.is_absolute() or ".." in rel.parts:
        return None
    for base in bases:
        for candidate in (base / rel, base / folder / rel):
            if candidate.is_file():
                return candidate
    return None


def merge(entries: dict[Path, Entry], path: Path, entry: Entry, problems: ImportProblems) -> None:
    known = entries.get(path)
    if known is None or (known.label == "" and (known.protocol, known.split) == (entry.protocol, entry.split)):
        entries[path] = entry
    elif entry.label == "" and (known.protocol, known.split) == (entry.protocol, entry.split):
        return  # an unlabelled list repeating a labelled one (dev.txt next to dev_label.txt)
    elif (known.protocol, known.split, known.label) != (entry.protocol, entry.split, entry.label):
        problems.other.append(f"{path}: listed as {entry.protocol} {entry.split} label {entry.label} "
                              f"({entry.where}) and as {known.protocol} {known.split} label {known.label} "
                              f"({known.where})")


def row_of(path: Path, entry: Entry) -> dict:
    live = entry.label == LIVE
    category = "none" if live else CATEGORY[entry.protocol][entry.split]
    row = {"path": str(path), "label": 1 if live else 0,
           "attack_type": "none" if live else ("unknown" if category == "unknown" else f"unknown_{category}"),
           "attack_category": category, "subset": FOLDER_OF[entry.protocol], "device": "", "split": entry.split,
           "subject": ""}
    row.update({f"{SPLIT_PREFIX}{p}": (entry.split if p == entry.protocol else "") for p in PROTOCOLS.values()})
    return row


IMPORTER = register(Importer(name="uniattackdata", benchmark="uniattackdata", layout=LAYOUT, source=SOURCE, scan=scan))
