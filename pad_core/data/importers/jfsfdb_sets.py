"""JFSFDB's member sets, each read in its own published layout (used by :mod:`pad_core.data.importers.jfsfdb`).

Every reader takes the member set's folder and returns one :class:`VideoJob` per video, with the columns all
frames of that video share; every file under the folder is either such a video, a file the layout names (a
protocol list, a metadata file, face boxes shipped next to a video), or reported as unknown. Subjects are
prefixed with the set (``SiW:003``), since member sets number their subjects independently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pad_core.data.importers.base import VIDEO_SUFFIXES, ImportProblems, files_under
from pad_core.data.video import VideoJob

COMPANIONS = (".face",)  # per-video face boxes SiW and MSU-MFSD ship next to each video (not read: see jfsfdb.py)


def _job(path: Path, root: Path, **row) -> VideoJob:
    return VideoJob(path, path.relative_to(root).as_posix(), row, root)


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


# ---- MSU-MFSD: scene01/{real,attack}/<name>.{mp4,mov} + train_sub_list.txt / test_sub_list.txt ----------------
MSU_NAME = re.compile(r"^(real|attack)_client(\d+)_(android|laptop)_(SD|HD)(?:_(.+))?_scene01$", re.IGNORECASE)
MSU_ATTACKS = {"printed_photo": "print", "ipad_video": "replay", "iphone_video": "replay"}
MSU_LISTS = {"train_sub_list.txt": "train", "test_sub_list.txt": "test"}


def read_subject_list(path: Path, problems: ImportProblems) -> set[int]:
    """Client numbers of a MSU-MFSD subject list (whitespace-separated, e.g. ``02`` or ``002``)."""
    ids = set()
    for word in path.read_text().split():
        digits = re.fullmatch(r"(?:client)?(\d+)", word.strip(), re.IGNORECASE)
        if digits:
            ids.add(int(digits.group(1)))
        else:
            problems.other.append(f"{path}: {word!r} is not a client number")
    return ids


def msu_mfsd(folder: Path, root: Path, problems: ImportProblems) -> list[VideoJob]:
    lists = {}
    for name, split in MSU_LISTS.items():
        if not (folder / name).is_file():
            problems.other.append(f"{folder / name}: MSU-MFSD's subject list is missing (it ships with the download)")
            return []
        lists[split] = read_subject_list(folder / name, problems)
    for client in sorted(lists["train"] & lists["test"]):
        problems.other.append(f"{folder}: client {client:03d} is in both train_sub_list.txt and test_sub_list.txt")
    jobs, seen = [], set()
    for path in files_under(folder, problems=problems):
        rel = path.relative_to(folder)
        if rel.as_posix() in MSU_LISTS or path.suffix.lower() in COMPANIONS:
            continue
        match = MSU_NAME.match(path.stem)
        if len(rel.parts) != 3 or rel.parts[0] != "scene01" or not _is_video(path) or not match:
            problems.unknown_files.append(str(path))
            continue
        kind, client, camera, _quality, words = match.groups()
        if rel.parts[1] != kind.lower():
            problems.other.append(f"{path}: a {kind} video in the {rel.parts[1]} folder")
            continue
        if (kind.lower() == "real") != (words is None) or (words and words.lower() not in MSU_ATTACKS):
            problems.unknown_labels.append(f"{path}: {words or 'no attack words'}")
            continue
        split = "train" if int(client) in lists["train"] else "test" if int(client) in lists["test"] else ""
        if not split:
            problems.other.append(f"{path}: client {int(client):03d} is in neither subject list")
            continue
        seen.add(int(client))
        jobs.append(_job(path, root, label=int(kind.lower() == "real"), subset="MSU-MFSD", split=split,
                         attack_type=MSU_ATTACKS[words.lower()] if words else "none", task="spoofing",
                         device=f"msu-{camera.lower()}", subject=f"MSU-MFSD:{int(client):03d}"))
    for split, clients in lists.items():
        problems.missing_files += [f"{folder}/{split}_sub_list.txt: client {c:03d} has no video"
                                   for c in sorted(clients - seen)]
    return jobs


# ---- SiW: {Train,Test}/{live,spoof}/<subject>/<subject>-<sensor>-<type>-<medium>-<session>.{mov,mp4} ----------
SIW_NAME = re.compile(r"^(\d+)-(\d+)-(\d+)-(\d+)-(\d+)$")
SIW_TYPES = {"1": "none", "2": "print", "3": "replay"}  # TypeID: live, print, replay
SIW_SPLITS = {"Train": "train", "Test": "test"}


def siw(folder: Path, root: Path, problems: ImportProblems) -> list[VideoJob]:
    jobs = []
    for path in files_under(folder, problems=problems):
        rel = path.relative_to(folder)
        if path.suffix.lower() in COMPANIONS:
            continue
        match = SIW_NAME.match(path.stem)
        if (len(rel.parts) != 4 or rel.parts[0] not in SIW_SPLITS or rel.parts[1] not in ("live", "spoof")
                or not _is_video(path) or not match):
            problems.unknown_files.append(str(path))
            continue
        subject, sensor, type_id, _medium, _session = match.groups()
        if type_id not in SIW_TYPES:
            problems.unknown_labels.append(f"{path}: TypeID {type_id}")
            continue
        if rel.parts[2] != subject or (rel.parts[1] == "live") != (type_id == "1"):
            problems.other.append(f"{path}: the name (subject {subject}, TypeID {type_id}) contradicts its folder")
            continue
        jobs.append(_job(path, root, label=int(type_id == "1"), attack_type=SIW_TYPES[type_id], subset="SiW",
                         split=SIW_SPLITS[rel.parts[0]], task="spoofing", device=f"siw-sensor{sensor}",
                         subject=f"SiW:{subject}"))
    return jobs


# ---- ROSE-Youtu: {train,test}/<subject>/<code>_<speaking>_<device>_<glasses>_<background>_<id>_<n>.mp4 ----------
ROSE_SUBJECT = re.compile(r"^_?(\d+)$")
ROSE_CODES = {"G": "none", "Ps": "print", "Pq": "print", "Vl": "replay", "Vm": "replay",  # still/quivering print,
              "Mc": "paper_mask", "Mf": "paper_mask", "Mu": "paper_mask", "Ml": "paper_mask"}  # Lenovo/Mac screen


def rose_youtu(folder: Path, root: Path, problems: ImportProblems) -> list[VideoJob]:
    """Labels from the file name's leading code (G genuine; Ps/Pq printed still/quivering; Vl/Vm video on a Lenovo
    or Mac screen; Mc/Mf/Mu/Ml paper masks: cropped, full, upper, lower); split from the train/test folder."""
    jobs = []
    for path in files_under(folder, problems=problems):
        rel = path.relative_to(folder)
        fields = path.stem.split("_")
        subject = ROSE_SUBJECT.match(rel.parts[1]) if len(rel.parts) == 3 else None
        if rel.parts[0] not in ("train", "test") or not subject or not _is_video(path) or len(fields) < 2:
            problems.unknown_files.append(str(path))
            continue
        if fields[0] not in ROSE_CODES:
            problems.unknown_labels.append(f"{path}: {fields[0]}")
            continue
        species = ROSE_CODES[fields[0]]
        jobs.append(_job(path, root, label=int(species == "none"), attack_type=species, subset="ROSE-Youtu",
                         split=rel.parts[0], task="spoofing", device=f"rose-{fields[2] if len(fields) > 2 else ''}",
                         subject=f"ROSE-Youtu:{int(subject.group(1)):03d}"))
    return jobs


# ---- FaceForensics++: original_sequences/youtube/<c>/videos, manipulated_sequences/<method>/<c>/videos ---------
FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
FF_COMPRESSIONS = ("raw", "c23", "c40")
FF_SPLITS = {"train.json": "train", "val.json": "dev", "test.json": "test"}


def ff_split_of(folder: Path, problems: ImportProblems) -> dict[str, str]:
    """Video id -> split, from splits/{train,val,test}.json (the FaceForensics repository's dataset/splits: a
    JSON list of [target, source] id pairs per split)."""
    split_of: dict[str, str] = {}
    for name, split in FF_SPLITS.items():
        path = folder / "splits" / name
        try:
            pairs = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            problems.other.append(f"{path}: FF++'s official split file is missing or not JSON ({err}); copy "
                                  "dataset/splits/*.json of github.com/ondyari/FaceForensics into FF++/splits/")
            continue
        for pair in pairs:
            for vid in pair:
                if split_of.setdefault(str(vid), split) != split:
                    problems.other.append(f"{path}: video {vid} is listed in two splits")
    return split_of


def ff_plus_plus(folder: Path, root: Path, problems: ImportProblems) -> list[VideoJob]:
    split_of = ff_split_of(folder, problems)
    if not split_of:
        return []
    jobs, used = [], set()
    compressions: dict[str, set[str]] = {}  # compression -> its folders (original_sequences/youtube/c23, ...)
    for path in files_under(folder, problems=problems):
        rel = path.relative_to(folder)
        if rel.parts[0] == "splits" and rel.name in FF_SPLITS and len(rel.parts) == 2:
            continue
        parts = rel.parts
        real = len(parts) == 5 and parts[:2] == ("original_sequences", "youtube")
        fake = len(parts) == 5 and parts[0] == "manipulated_sequences" and parts[1] in FF_METHODS
        ids = path.stem.split("_")
        if (not (real or fake) or parts[2] not in FF_COMPRESSIONS or parts[3] != "videos" or not _is_video(path)
                or len(ids) != (1 if real else 2) or not all(i.isdigit() for i in ids)):
            problems.unknown_files.append(str(path))
            continue
        missing = [i for i in ids if i not in split_of]
        if missing:
            problems.missing_files.append(f"{path}: video id {missing[0]} is in no split file")
            continue
        used.update(ids)
        compressions.setdefault(parts[2], set()).add(str(folder.joinpath(*parts[:3])))
        jobs.append(_job(path, root, label=int(real), attack_type="none" if real else parts[1].lower(),
                         subset="FF++", split=split_of[ids[0]], task="forgery", device=f"ff++-{parts[2]}",
                         subject=f"FF++:{ids[0]}"))  # the target video's person: its pair shares the split
    problems.missing_files += [f"{folder}/splits: video id {v} has no video" for v in sorted(set(split_of) - used)]
    one_compression(folder, compressions, problems)
    return jobs


def one_compression(folder: Path, compressions: dict[str, set[str]], problems: ImportProblems) -> None:
    """FF++ ships each clip in raw, c23 and c40: with several present, every clip would be imported once per
    compression, as separate videos of one subject (three times the weight, and a clip's copies on both sides of a
    dev carve). One compression per import; the folders of the others are named to move out."""
    if len(compressions) < 2:
        return
    listed = "; ".join(f"{c}: {sorted(f)}" for c, f in sorted(compressions.items()))
    problems.other.append(f"{folder}: videos in {len(compressions)} compressions {sorted(compressions)}, so each clip "
                          f"would be imported once per compression; keep one compression and "
                          f"move the folders of the others out of ROOT ({listed})")


# ---- Celeb-DF (v2): Celeb-real/, YouTube-real/, Celeb-synthesis/ + List_of_testing_videos.txt ------------------
CELEB_FOLDERS = {"Celeb-real": 1, "YouTube-real": 1, "Celeb-synthesis": 0}
CELEB_LIST = "List_of_testing_videos.txt"


def celeb_df(folder: Path, root: Path, problems: ImportProblems) -> list[VideoJob]:
    """Celeb-DF's official split is per video and shares celebrities between its train and test videos, so no
    identity-disjoint subject can hold: ``subject`` stays empty (unknown) and the celebrity goes to ``identity``."""
    listed = {}
    if not (folder / CELEB_LIST).is_file():
        problems.other.append(f"{folder / CELEB_LIST}: Celeb-DF's test list is missing (it ships with the download)")
        return []
    for n, line in enumerate((folder / CELEB_LIST).read_text().splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2 or words[0] not in ("0", "1"):
            problems.unknown_labels.append(f"{folder / CELEB_LIST}:{n}: {line.strip()!r}")
            continue
        listed[words[1]] = int(words[0])
    jobs, tested = [], set(listed)
    for path in files_under(folder, problems=problems):
        rel = path.relative_to(folder).as_posix()
        if rel == CELEB_LIST:
            continue
        top = rel.split("/")[0]
        if top not in CELEB_FOLDERS or rel.count("/") != 1 or not _is_video(path):
            problems.unknown_files.append(str(path))
            continue
        label = CELEB_FOLDERS[top]
        if rel in listed and listed.pop(rel) != label:  # popped: what is left at the end has no video
            problems.other.append(f"{path}: {CELEB_LIST} gives the other label than its folder {top}")
            continue
        person = re.match(r"^(id\d+)_", path.stem)
        jobs.append(_job(path, root, label=label, attack_type="none" if label else "deepfake", subset="Celeb-DF",
                         split="test" if rel in tested else "train",
                         task="forgery", device=f"celebdf-{top.lower()}", subject="",
                         identity=f"Celeb-DF:{person.group(1)}" if person else ""))
    problems.missing_files += [f"{folder / CELEB_LIST}: {rel} has no video" for rel in sorted(listed)]
    return jobs


# ---- DFDC: <part folder>/metadata.json + the part's videos ----------------------------------------------------
DFDC_LABELS = {"real": 1, "fake": 0}
DFDC_SPLITS = {"train": "train", "test": "test", "val": "dev", "validation": "dev", "dev": "dev"}


def dfdc(folder: Path, root: Path, problems: ImportProblems) -> list[VideoJob]:
    """Each part folder's metadata.json maps a video file name to {"label": REAL|FAKE, "split", "original"}."""
    meta: dict[Path, dict] = {}
    files = files_under(folder, problems=problems)  # one walk: links followed, every file by the path it was reached
    for path in [f for f in files if f.name == "metadata.json"]:
        try:
            entries = json.loads(path.read_text())
        except ValueError as err:
            problems.other.append(f"{path}: not JSON ({err})")
            continue
        meta.update({path.parent / name: entry for name, entry in entries.items()})
    jobs = []
    for path in files:
        if path.name == "metadata.json":
            continue
        entry = meta.pop(path, None)
        if entry is None or not _is_video(path):
            problems.unknown_files.append(str(path))
            continue
        label = DFDC_LABELS.get(str(entry.get("label", "")).lower())
        split = DFDC_SPLITS.get(str(entry.get("split", "")).lower())
        if label is None:
            problems.unknown_labels.append(f"{path}: {entry.get('label')}")
            continue
        if split is None:
            problems.other.append(f"{path}: metadata split {entry.get('split')!r} is not train/val/test")
            continue
        source = Path(str(entry.get("original") or path.name)).stem if label == 0 else path.stem
        jobs.append(_job(path, root, label=label, attack_type="none" if label else "deepfake", subset="DFDC",
                         split=split, task="forgery", device="dfdc", subject=f"DFDC:{source}"))
    problems.missing_files += [f"{p.parent / 'metadata.json'}: {p.name} has no video" for p in sorted(meta)]
    return jobs
