"""Screen-flash captures for ATR-FAS (benchmark ``flash``): frame folders or videos -> one flash strip per capture.

ATR-FAS's dataset is private and unreleased (METHODS.md §5(e)), so no published layout exists: the layout below is
padsweep's own. A capture is one flash sequence, its frames in flash order (ordered by intensity, as the paper's
differential normalisation assumes). Captures may have any number of frames >= 3 (the fewest DN works on): the
importer keeps k of them (--frames-per-video; all when fewer), evenly spaced with both extremes, and a run with
atr.n0 larger than a capture's count is refused before any trial (column ``frames``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pad_core.data.flash import MIN_FRAMES, frame_choice
from pad_core.data.importers.base import (
    IMAGE_SUFFIXES,
    OUTPUT_DIR,
    VIDEO_SUFFIXES,
    Importer,
    ImportOptions,
    ImportProblems,
    files_under,
    own_outputs,
    register,
)
from pad_core.data.video import VideoError, fingerprint, pick_frames, root_key, unopenable

SPECIES = {"live": "none", "print": "print", "replay": "replay", "3d": "mask3d", "mask3d": "mask3d"}
DEPTH = "depth"  # a frame folder's depth map is depth.<ext>; a video's is <capture>_depth.<ext>
FOLDS = 10  # ATR-FAS's ten-fold cross-validation; subjects dealt round-robin in sorted order

LAYOUT = """padsweep's own (ATR-FAS's dataset is unreleased; no published layout exists):
  ROOT/<live|print|replay|3d>/<subject>/<capture>/<frames>.png|jpg  (a frame folder; frames in flash order by
      natural name order, e.g. 0.png 1.png ... 10.png), depth map ROOT/live/<subject>/<capture>/depth.png, or
  ROOT/<live|print|replay|3d>/<subject>/<capture>.mp4|mov|...  (a video; every decoded frame is a flash frame, in
      order), depth map ROOT/live/<subject>/<capture>_depth.png.
Every live capture needs its depth map (greyscale, near = bright; ATR-FAS's depth target); attacks have none. A
capture of F >= 3 frames keeps k = --frames-per-video of them (all if F <= k), evenly spaced with both extremes;
frames are centre-cropped square and resized to --crop-size, stacked into one PNG strip (k*S x S) under
padsweep_import/flash/<root>-<hash>/ (one cache per dataset root). Columns: frames (kept), fold = subject rank mod
10, split train (dev is carved by subject)."""


def natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def square(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize its side to ``size`` (kept when 0)."""
    w, h = image.size
    side = min(w, h)
    image = image.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
    return image if size <= 0 or side == size else image.resize((size, size), Image.BILINEAR)


def captures(root: Path, problems: ImportProblems, skip: set[Path] = frozenset()) -> list[dict]:
    """Every capture: {"species", "subject", "frames": [paths] | "video": path, "depth": path | None, "name"};
    files in ``skip`` (the import's own manifest and report) are not dataset files."""
    found: dict[Path, dict] = {}
    for path in files_under(root, problems=problems):
        if path.resolve() in skip:
            continue
        rel = path.relative_to(root)
        if rel.parts[0] not in SPECIES:
            if len(rel.parts) == 1:
                problems.unknown_files.append(str(path))
            else:
                problems.unknown_labels.append(f"{path}: {rel.parts[0]} (known: {sorted(SPECIES)})")
            continue
        suffix = path.suffix.lower()
        if len(rel.parts) == 3 and suffix in VIDEO_SUFFIXES:
            found.setdefault(path.with_suffix(""), {})["video"] = path
        elif len(rel.parts) == 3 and suffix in IMAGE_SUFFIXES and path.stem.endswith("_" + DEPTH):
            found.setdefault(path.with_name(path.stem[: -len(DEPTH) - 1]), {})["depth"] = path
        elif len(rel.parts) == 4 and suffix in IMAGE_SUFFIXES:
            slot = found.setdefault(path.parent, {})
            if path.stem == DEPTH:
                slot["depth"] = path
            else:
                slot.setdefault("frames", []).append(path)
        else:
            problems.unknown_files.append(str(path))
    out = []
    for key, slot in sorted(found.items()):
        rel = key.relative_to(root)
        live = rel.parts[0] == "live"
        if "video" in slot and "frames" in slot:
            problems.other.append(f"{key}: both a frame folder and a video {slot['video'].name} for one capture")
            continue
        if "video" not in slot and "frames" not in slot:
            problems.unknown_files.append(f"{slot['depth']}: a depth map with no capture")
            continue
        if live and "depth" not in slot:
            problems.missing_files.append(f"{slot.get('video') or key}: a live capture without its depth map")
            continue
        if not live and "depth" in slot:
            problems.unknown_files.append(f"{slot['depth']}: attacks take no depth map (their target is 0.5)")
            continue
        frames = sorted(slot.get("frames", []), key=lambda p: natural_key(p.name))
        out.append({"species": SPECIES[rel.parts[0]], "subject": rel.parts[1], "name": rel.as_posix(),
                    "frames": frames, "video": slot.get("video"), "depth": slot.get("depth")})
    return out


def read_capture(capture: dict, k: int) -> tuple[list[Image.Image], int]:
    """(the kept frames, in flash order; the capture's frame count). Raises VideoError when F < MIN_FRAMES."""
    if capture["video"] is not None:
        found, total = pick_frames(capture["video"], lambda n: frame_choice(n, min(n, k)) if n >= MIN_FRAMES else [])
        images = [found[i] for i in sorted(found)]
    else:
        total = len(capture["frames"])
        chosen = frame_choice(total, min(total, k)) if total >= MIN_FRAMES else []
        # phone JPEGs store the sensor's orientation plus an EXIF flag: turn them as shown, like the videos
        images = [ImageOps.exif_transpose(Image.open(capture["frames"][i])).convert("RGB") for i in chosen]
    if total < MIN_FRAMES:
        raise VideoError(f"{total} flash frames; differential normalisation needs at least {MIN_FRAMES}")
    return images, total


def write_strip(capture: dict, out: Path, k: int, size: int) -> tuple[Path, Path | None, int]:
    """Write (or reuse) the capture's strip and depth map; returns (strip, depth or None, frames kept)."""
    strip, depth = out / f"{capture['name']}.png", out / f"{capture['name']}_depth.png"
    marker = out / f"{capture['name']}.json"
    sources = [p for p in (capture["video"], *capture["frames"], capture["depth"]) if p is not None]
    done, source = json.loads(marker.read_text()) if marker.is_file() else {}, fingerprint(sources)
    if done.get("source") == source and strip.is_file() and (capture["depth"] is None or depth.is_file()):
        return strip, depth if capture["depth"] is not None else None, int(done["frames"])
    images, _ = read_capture(capture, k)
    side = size if size > 0 else min(images[0].size)
    frames = [np.asarray(square(img, side)) for img in images]
    strip.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(frames, axis=0)).save(strip)
    if capture["depth"] is not None:
        square(ImageOps.exif_transpose(Image.open(capture["depth"])).convert("L"), side).save(depth)
    # last: a cut-short import leaves no marker and redoes the capture; a replaced source is redone too
    marker.write_text(json.dumps({"frames": len(frames), "source": source}))
    return strip, depth if capture["depth"] is not None else None, len(frames)


def scan(root: Path, options: ImportOptions, problems: ImportProblems) -> list[dict]:
    found = captures(root, problems, own_outputs(options.out))
    problems.other += unopenable(c["video"] for c in found if c["video"] is not None)
    if problems.kinds(options.skip_unknown):
        return []  # a wrong tree or a file that is no video is refused before any capture is decoded
    k, size = max(options.frames_per_video, MIN_FRAMES), options.crop_size
    # keyed by the root too: captures are named by their path under ROOT, which two roots can share
    out = options.out.expanduser().resolve().parent / OUTPUT_DIR / "flash" / root_key(root) / f"k{k}-size{size}"
    fold = {s: i % FOLDS for i, s in enumerate(sorted({c["subject"] for c in found}, key=natural_key))}
    rows = []
    for capture in found:
        where = capture["video"] or (capture["frames"][0].parent if capture["frames"] else capture["name"])
        try:
            strip, depth, kept = write_strip(capture, out, k, size)
        except (VideoError, OSError) as err:
            problems.other.append(f"{where}: {err}")
            continue
        rows.append({"path": str(strip), "path_depth": str(depth) if depth else "",
                     "label": int(capture["species"] == "none"), "attack_type": capture["species"],
                     "subset": "flash", "device": "unknown", "split": "train", "subject": capture["subject"],
                     "fold": fold[capture["subject"]], "frames": kept, "capture": capture["name"]})
    return rows


IMPORTER = register(Importer(
    name="flash", benchmark="flash", layout=LAYOUT, scan=scan,
    source="padsweep's own layout: ATR-FAS (Lin et al.) describes a private dataset (12,660 flash videos) that is "
           "not released (github.com/Chaochao-Lin/ATR-FAS README), so there is no published layout to follow"))
