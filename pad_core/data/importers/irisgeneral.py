"""IrisGeneral (MMoE paper): ten iris PAD subsets, each with its published train/test partition.

IrisGeneral is assembled from LivDet-Iris 2013/2015/2017 (Clarkson, Notre Dame), CASIA and IFVE; no file list of
the assembly is public. The LivDet releases ship each dataset as a training and a testing part of live and spoof
images (Clarkson's spoofs: patterned contact lenses and printouts; Notre Dame's: textured contact lenses, listed
in CSV/txt files that users sort into the same two folders). The importer therefore expects one folder per subset
holding that structure (LAYOUT), and refuses anything it cannot place. The exact folder names inside each download
could not be verified from a public source: the accepted words are listed, and anything else is refused by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pad_core.data.importers.base import IMAGE_SUFFIXES, Importer, ImportOptions, ImportProblems, files_under, register


@dataclass(frozen=True)
class IrisSubset:
    nick: str  # the MMoE paper's name (protocol_defs/irisgeneral.json selects on it)
    device: str  # capture sensor
    folders: tuple[str, ...]  # accepted folder names, compared by key() (case, '-', '_', ' ' and '.' ignored)
    subject_rule: str  # "nd" (Notre Dame sequence ids) or "" (the naming carries no subject we could verify)


SUBSETS = (
    IrisSubset("H", "H100", ("H", "CASIA-H100", "CASIA_H100", "H100"), ""),
    IrisSubset("Da", "DALSA", ("Da", "Clarkson2013", "Clarkson2013_DALSA", "LivDet2013_Clarkson"), ""),
    IrisSubset("Db", "DALSA", ("Db", "Clarkson2015_DALSA", "LivDet2015_Clarkson_DALSA"), ""),
    IrisSubset("La", "LG2200", ("La", "Clarkson2015_LG2200", "Clarkson2015_LG", "LivDet2015_Clarkson_LG"), ""),
    IrisSubset("Lb", "LG2200", ("Lb", "Clarkson2017", "Clarkson2017_LG2200", "LivDet2017_Clarkson"), ""),
    IrisSubset("F", "AI1000", ("F", "IFVE", "IFVE_AI1000"), ""),
    IrisSubset("Ga", "LG4000", ("Ga", "ND2013_LG4000", "NDCLD13_LG4000", "LivDet2013_ND_LG4000"), "nd"),
    IrisSubset("Aa", "AD100", ("Aa", "ND2013_AD100", "NDCLD13_AD100", "LivDet2013_ND_AD100"), "nd"),
    IrisSubset("Gb", "LG4000", ("Gb", "ND2017_LG4000", "LivDet2017_ND_LG4000"), "nd"),
    IrisSubset("Ab", "AD100", ("Ab", "ND2017-CD_AD100", "ND2017CD_AD100", "ND2017-CD", "LivDet2017_ND_AD100"), "nd"),
)
SPLIT_WORDS = {"train": "train", "training": "train", "trainset": "train",
               "test": "test", "testing": "test", "testset": "test", "knowntest": "test", "testknown": "test",
               "unknowntest": "test", "testunknown": "test"}
LIVE_WORDS = ("live", "real", "bonafide", "genuine", "authentic")
GENERIC_ATTACK_WORDS = ("spoof", "spoofs", "fake", "attack", "attacks")
SPECIES_WORDS = {"print": "print", "printed": "print", "printouts": "print", "printout": "print", "paper": "print",
                 "patterned": "contact_lens", "patternedcontacts": "contact_lens", "textured": "contact_lens",
                 "texturedcontacts": "contact_lens", "texturedcontactlens": "contact_lens", "contacts": "contact_lens",
                 "contactlens": "contact_lens", "cosmetic": "contact_lens", "cosmeticcontacts": "contact_lens",
                 "prosthetic": "prosthetic", "fakeeye": "prosthetic", "display": "replay", "replay": "replay",
                 "electronicdisplay": "replay"}
ND_NAME = re.compile(r"^(\d{5})d\d+$")  # Notre Dame CVRL image names: <5-digit subject>d<sequence>, e.g. 04233d1606


def key(name: str) -> str:
    return re.sub(r"[-_ .]", "", name).lower()


FOLDER_TO_SUBSET = {key(f): s for s in SUBSETS for f in s.folders}

LAYOUT = (
    "ROOT/<subset>/<split>/<label>[/<species>][/...]/<image>. <subset>: one folder per IrisGeneral subset, named "
    "(case, '-', '_', '.' and spaces ignored) " + "; ".join(f"{s.nick} ({s.device}): {', '.join(s.folders)}"
                                                             for s in SUBSETS) +
    ". <split>: Train/Training or Test/Testing (LivDet's known/unknown test parts: KnownTest/UnknownTest are test). "
    f"<label>: bona fide {list(LIVE_WORDS)}; attack {list(GENERIC_ATTACK_WORDS)} (species unknown, or named by the "
    f"next folder) or a species word {sorted(SPECIES_WORDS)} (LivDet's Patterned/Printed folders). Deeper folders "
    "are free. Images: " + ", ".join(IMAGE_SUFFIXES) + ". Subjects: Notre Dame subsets (Ga, Aa, Gb, Ab) from the CVRL "
    "file name <5-digit subject>d<sequence> (e.g. 04233d1606.tiff -> Ga/04233, kept per subset: the same person seen "
    "by LG4000 and AD100 is two subjects, so cross-sensor overlap is not checked); other subsets: empty (their "
    "naming carries no subject we could verify). No dev split: prepare() carves one from train subjects."
)
SOURCE = ("MMoE paper (IrisGeneral subsets and devices); LivDet-Iris 2013/2015/2017 competition papers (Yambay et "
          "al.: training/testing parts, live and spoof images, textured contacts and printouts); the LivDet releases' "
          "Train|Test/Live|Spoof/<species> folders; Notre Dame CVRL file naming (cvrl.nd.edu). Not verified: the "
          "exact folder names inside each LivDet-Iris, CASIA-H100 and IFVE download, and Clarkson subject naming")


def scan(root: Path, options: ImportOptions, problems: ImportProblems) -> list[dict]:
    rows = []
    for path in files_under(root, problems=problems):
        row = place(path, root, problems)
        if row is not None:
            rows.append(row)
    one_folder_per_subset(root, problems)
    return rows


def one_folder_per_subset(root: Path, problems: ImportProblems) -> None:
    """Two folders naming one subset (a copy under another accepted name) would import its images twice."""
    claimed: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and key(p.name) in FOLDER_TO_SUBSET):
        claimed.setdefault(FOLDER_TO_SUBSET[key(folder.name)].nick, []).append(str(folder))
    for nick, folders in claimed.items():
        if len(folders) > 1:
            problems.other.append(f"{' and '.join(folders)}: both are subset {nick}; keep one")


def place(path: Path, root: Path, problems: ImportProblems) -> dict | None:
    """One manifest row for ``path``, or None after recording why it cannot be placed."""
    parts = path.relative_to(root).parts
    if len(parts) < 4 or not path.name.lower().endswith(IMAGE_SUFFIXES):
        problems.unknown_files.append(f"{path}: not an image at ROOT/<subset>/<split>/<label>/...")
        return None
    subset, split = FOLDER_TO_SUBSET.get(key(parts[0])), SPLIT_WORDS.get(key(parts[1]))
    if subset is None or split is None:
        what = f"subset folder {parts[0]!r}" if subset is None else f"split folder {parts[1]!r}"
        problems.unknown_files.append(f"{path}: unknown {what}")
        return None
    label, species = label_of(parts[2], parts[3] if len(parts) > 4 else "")
    if label is None:
        problems.unknown_labels.append(f"{path}: {parts[2]}")
        return None
    return {"path": str(path), "label": label, "attack_type": species, "subset": subset.nick,
            "device": subset.device, "split": split, "subject": subject_of(subset, path)}


def label_of(word: str, below: str) -> tuple[int | None, str]:
    """(label, attack_type) of a label folder (and the folder below it, which may name the species)."""
    word = key(word)
    if word in LIVE_WORDS:
        return 1, "none"
    if word in SPECIES_WORDS:
        return 0, SPECIES_WORDS[word]
    if word in GENERIC_ATTACK_WORDS:
        return 0, SPECIES_WORDS.get(key(below), "unknown")
    return None, ""


def subject_of(subset: IrisSubset, path: Path) -> str:
    if subset.subject_rule == "nd":
        found = ND_NAME.match(path.stem)
        return f"{subset.nick}/{found.group(1)}" if found else ""
    return ""


IMPORTER = register(Importer(name="irisgeneral", benchmark="irisgeneral", layout=LAYOUT, source=SOURCE, scan=scan))
