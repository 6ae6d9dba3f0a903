"""CASIA-SURF as the ChaLearn CVPR 2019 challenge ships it (its own layout and lists), as MMDG's source S.

ROOT holds ``Training/<real_part|fake_part>/CLKJ_<id>/<real|NN_regions_shape>.rssdk/<color|depth|ir>/<n>.jpg``,
``Val/<NNNN>/<NNNNNN>-<color|depth|ir>.jpg`` and ``Testing/...`` the same, plus the lists: ``train_list.txt``
(train), ``val_private_list.txt`` (dev, the labelled validation list released after phase 1) and
``test_private_list.txt`` (test). A line is ``<color> <depth> <ir> <label>``, label 1 = real, 0 = attack.
``val_public_list.txt`` / ``test_public_list.txt`` (no labels) are recognised and not read.
"""

from __future__ import annotations

from pathlib import Path

from pad_core.data.importers.base import ImportProblems
from pad_core.data.importers.mmdg_lists import (
    LIST_LABELS,
    Line,
    consistent,
    modality_files,
    once_each,
    read_lines,
    sample_row,
    unlisted,
)
from pad_core.data.importers.mmdg_names import Facts, surf_challenge_name

SURF_LISTS = {"train_list.txt": "train", "val_private_list.txt": "dev", "test_private_list.txt": "test"}
UNLABELLED_LISTS = ("val_public_list.txt", "test_public_list.txt")
LAYOUT = ("ROOT/Training/<real_part|fake_part>/CLKJ_<id>/<real|NN_regions_shape>.rssdk/<color|depth|ir>/<n>.jpg; "
          "ROOT/Val|Testing/<NNNN>/<NNNNNN>-<color|depth|ir>.jpg; lists ROOT/train_list.txt (train), "
          "val_private_list.txt (dev), test_private_list.txt (test), each line '<color> <depth> <ir> <label>' "
          "(1 = real, 0 = attack). Subject = the CLKJ_* folder in Training; Val/Testing are anonymised (no subject). "
          "Attack type print (every CASIA-SURF attack is a printed photo with regions cut out). The images are "
          "face regions already (background removed by the dataset): --faces none. Not verified: the name of the "
          "labelled test list (test_private_list.txt, as challenge code writes it; the organisers released test "
          "labels after phase 2).")
SOURCE = ("CASIA-SURF (Zhang et al., CVPR 2019 / T-BIOM 2020), ChaLearn Face Anti-spoofing Attack Detection "
          "Challenge @ CVPR 2019 release; list syntax as read by the challenge's published solutions")


def scan_surf(root: Path, options, problems: ImportProblems) -> list[dict]:
    rows, where = [], []
    for name, split in SURF_LISTS.items():
        if not (root / name).is_file():
            problems.missing_files.append(f"{root / name} (the labelled {split} list)")
            continue
        for line in read_lines(root / name, name):
            row = surf_row(root, split, line, problems)
            if row is not None:
                rows.append(row)
                where.append(line.where)
    rows = once_each(rows, where, problems)
    lists = {root / n for n in (*SURF_LISTS, *UNLABELLED_LISTS)}
    unlisted(root, rows, lists, problems)
    return rows


def surf_row(root: Path, split: str, line: Line, problems: ImportProblems) -> dict | None:
    if len(line.fields) != 4:
        problems.other.append(f"{line.where}: {len(line.fields)} fields; expected '<color> <depth> <ir> <label>'")
        return None
    if line.fields[3] not in LIST_LABELS:
        problems.unknown_labels.append(f"{line.where} {line.fields[0]}: {line.fields[3]!r} (1 = real, 0 = attack)")
        return None
    facts = surf_challenge_name(line.fields[0])
    if facts is None:
        problems.other.append(f"{line.where}: {line.fields[0]}: not named as CASIA-SURF names its frames")
        return None
    files = modality_files(root, line, problems)
    if files is None:
        return None
    label = LIST_LABELS[line.fields[3]]
    wrong = misaligned(line.fields)
    if wrong:
        problems.other.append(f"{line.where}: {wrong}")
        return None
    if not consistent(facts, label, split, line.where, problems):
        return None
    if not facts.attack_type:  # Val/Testing names carry no class: the list's label decides
        facts = Facts("", "none" if label == 1 else "print", "", "")
    return sample_row("S", split, label, files, facts)


def misaligned(fields: tuple[str, ...]) -> str:
    """The depth and IR files must be the colour frame's own (same video folder, same frame name)."""
    rgb, depth, ir = fields[:3]
    for other, word in ((depth, "depth"), (ir, "ir")):
        if not other:
            continue
        if rgb.startswith("Training/"):
            expected = rgb.replace("/color/", f"/{word}/")
        else:
            expected = rgb.replace("-color.", f"-{word}.")
        if Path(other).with_suffix("") != Path(expected).with_suffix(""):
            return f"{other} is not the {word} frame of {rgb} (expected {expected})"
    return ""
