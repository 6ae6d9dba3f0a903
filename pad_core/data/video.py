"""Video decoding and frame sampling for the importers (PyAV: FFmpeg's libraries inside the wheel, no system build).

A video becomes k manifest rows, one per sampled frame: the frame count is split into k equal intervals and one
frame is drawn inside each, at an offset seeded by (seed, the video's id), so a re-import picks the same frames
and two videos do not share a phase. Frames are written as PNG (short side resized to ``crop_size`` when > 0)
under ``<manifest folder>/padsweep_import/frames/<root>-<hash>/<k..-seed..-size..>/<video id>/<frame index>.png``:
``<root>-<hash>`` names the resolved dataset root (two imports of different roots into one manifest folder have
videos with the same ids, and shared one cache folder, each overwriting the other's frames), and the next folder
name holds every setting that changes which pixels are written, so a re-import with the same settings reuses them
(a ``done.json`` marker, written last, says a video's frames are complete and records the source file's size and
modification time, so a replaced video is sampled again) and other settings never mix.

A video with fewer than k frames gives all its frames (a note is printed, nothing is refused: a short clip is
valid data, and its video-level score is still the mean over its frames). A video that cannot be opened or
decodes to no frame is an import problem naming its path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

FRAMES_DIR = "frames"  # under the importers' output folder (base.OUTPUT_DIR)
MARKER = "done.json"  # written after a video's PNGs: its presence means the cached frames are complete


class VideoError(Exception):
    """A video that cannot be opened or decoded (the message says why)."""


@dataclass(frozen=True)
class FrameSampling:
    k: int  # frames per video
    seed: int  # offset seed
    size: int  # short side of the written frames, 0 = original size

    def key(self) -> str:
        """The cache folder name: every setting that changes the written frames."""
        return f"k{self.k}-seed{self.seed}-size{self.size}"


@dataclass(frozen=True)
class SampledVideo:
    video: str  # the video's id (its path relative to the dataset root)
    frames: tuple[tuple[int, Path], ...]  # (frame index in the video, written PNG)
    total: int  # frames the video decodes to


def root_key(root: Path) -> str:
    """The cache folder of one dataset root: its name (readable) and a short hash of its resolved path (unique)."""
    resolved = Path(root).resolve()
    name = re.sub(r"[^A-Za-z0-9._-]", "_", resolved.name) or "root"
    return f"{name}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:8]}"


def stable_hash(text: str) -> int:
    """A process-independent 32-bit hash (Python's hash() is salted per process)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def sample_indices(total: int, k: int, seed: int, video: str) -> list[int]:
    """k frame indices, one uniformly inside each of k equal intervals of [0, total); all frames if total <= k."""
    if total <= k:
        return list(range(total))
    rng = np.random.default_rng([seed, stable_hash(video)])
    lo = np.arange(k) * total // k  # integer interval bounds: disjoint, covering [0, total), none empty
    hi = np.arange(1, k + 1) * total // k
    return (lo + np.floor(rng.random(k) * (hi - lo)).astype(int)).tolist()


def _open(path: Path):
    import av  # noqa: PLC0415 - imported where videos are read, so importing this module needs no FFmpeg

    try:
        container = av.open(str(path))
    except Exception as err:  # noqa: BLE001 - FFmpeg reports a bad file through many error types
        raise VideoError(f"cannot be opened as a video ({type(err).__name__}: {err})") from None
    if not container.streams.video:
        container.close()
        raise VideoError("holds no video stream")
    return container


def header_frame_count(path: Path) -> int:
    """The frame count the container declares (0 when it does not; it may also be wrong)."""
    container = _open(path)
    try:
        return int(container.streams.video[0].frames or 0)
    finally:
        container.close()


def expected_frame_count(path: Path) -> int:
    """The declared count, else the stream's duration x its average frame rate (Matroska and WebM declare no count,
    and decoding a whole video just to count its frames doubled the import's decoding); 0 when neither is known."""
    declared = header_frame_count(path)
    if declared:
        return declared
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate
        if rate and stream.duration and stream.time_base:
            return round(float(stream.duration * stream.time_base * rate))
        if rate and container.duration:
            return round(container.duration / 1_000_000 * float(rate))  # container.duration is in microseconds
        return 0
    finally:
        container.close()


def upright(frame) -> Image.Image:
    """The frame as shown: phone videos store the sensor's orientation and a display rotation (FFmpeg's display
    matrix, counter-clockwise degrees), which players apply and a plain decode does not (a sideways face)."""
    image = frame.to_image().convert("RGB")
    rotation = int(getattr(frame, "rotation", 0) or 0)
    return image.rotate(rotation, expand=True) if rotation % 360 else image


def decode_frames(path: Path, wanted: Iterable[int] | None = None) -> tuple[dict[int, Image.Image], int]:
    """({index: RGB image} for the ``wanted`` indices (every frame when None), frames decoded in all).

    Decodes the whole stream once: seeking is unreliable across codecs (it lands on key frames), and the count a
    full decode gives is the only one to trust."""
    keep = None if wanted is None else set(wanted)
    container = _open(path)
    found: dict[int, Image.Image] = {}
    count = 0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if keep is None or count in keep:
                found[count] = upright(frame)
            count += 1
    except Exception as err:  # noqa: BLE001 - a corrupt packet mid-stream: refuse the video, not the import
        raise VideoError(f"fails to decode after {count} frames ({type(err).__name__}: {err})") from None
    finally:
        container.close()
    if count == 0:
        raise VideoError("decodes to no frame")
    return found, count


def resize_short_side(image: Image.Image, size: int) -> Image.Image:
    if size <= 0 or min(image.size) == size:
        return image
    w, h = image.size
    scale = size / min(w, h)
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)


def pick_frames(path: Path, choose: Callable[[int], list[int]]) -> tuple[dict[int, Image.Image], int]:
    """The frames ``choose(total)`` names. The expected count (declared, or from the duration) is tried first (one
    decode); when it was wrong (some frames not decoded, or more than expected) the true count from that decode picks
    again."""
    declared = expected_frame_count(path)
    if declared > 0:
        found, total = decode_frames(path, choose(declared))
        if total == declared:
            return found, total
        wanted = choose(total)
        if set(wanted) <= set(found):
            return {i: found[i] for i in wanted}, total
        return decode_frames(path, wanted)
    _, total = decode_frames(path, [])
    return decode_frames(path, choose(total))


def fingerprint(paths: Iterable[Path]) -> str:
    """Size and modification time of the source files: a replaced download invalidates the cached frames."""
    stats = [(p.name, st.st_size, st.st_mtime_ns) for p in paths for st in (p.stat(),)]
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def _cached(folder: Path, source: str) -> SampledVideo | None:
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text())
        frames = tuple((int(i), folder / f"{int(i):06d}.png") for i in info["indices"])
        if info["source"] != source:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    if not all(p.is_file() for _, p in frames):
        return None
    return SampledVideo(info["video"], frames, int(info["total"]))


def sample_video(path: Path, video: str, out_root: Path, sampling: FrameSampling) -> SampledVideo:
    """Sample, write and return the frames of one video (cached under ``out_root/<sampling.key()>/<video>``)."""
    folder, source = out_root / sampling.key() / video, fingerprint([path])
    hit = _cached(folder, source)
    if hit is not None:
        return hit
    found, total = pick_frames(path, lambda n: sample_indices(n, sampling.k, sampling.seed, video))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):  # frames of a replaced or half-sampled earlier version of this video
        stale.unlink()
    frames = []
    for index in sorted(found):
        target = folder / f"{index:06d}.png"
        resize_short_side(found[index], sampling.size).save(target)
        frames.append((index, target))
    tmp = folder / (MARKER + ".tmp")
    tmp.write_text(json.dumps({"video": video, "indices": sorted(found), "total": total, "source": source}))
    os.replace(tmp, folder / MARKER)  # atomic: an interrupted import leaves no marker, so it redoes the video
    return SampledVideo(video, tuple(frames), total)


@dataclass(frozen=True)
class VideoJob:
    path: Path  # the video file
    video: str  # its id: the path relative to the dataset root (posix)
    row: dict  # the manifest columns every frame of it shares (label, subset, split, subject, ...)
    root: Path  # the dataset root ``video`` is relative to (part of the frame cache's key, see root_key)


def unopenable(paths: Iterable[Path]) -> list[str]:
    """``"<path>: <why>"`` for every file that cannot be opened as a video: a container header read (milliseconds
    each), so a truncated or mislabelled file is refused before hours of decoding the others."""
    found = []
    for path in paths:
        try:
            header_frame_count(path)
        except VideoError as err:
            found.append(f"{path}: {err}")
    return found


def frame_rows(jobs: list[VideoJob], out_root: Path, sampling: FrameSampling, other: list[str]) -> list[dict]:
    """One manifest row per sampled frame (``path`` = the PNG, ``video`` = the video's id); videos that fail to
    open or decode are appended to ``other`` as ``"<path>: <why>"`` (the importer's ImportProblems.other)."""
    broken = unopenable(job.path for job in jobs)
    if broken:
        other += broken
        return []
    rows, short = [], []
    for n, job in enumerate(jobs, 1):
        try:
            sampled = sample_video(job.path, job.video, out_root / root_key(job.root), sampling)
        except VideoError as err:
            other.append(f"{job.path}: {err}")
            continue
        if sampled.total < sampling.k:
            short.append(f"{job.video} ({sampled.total} frames)")
        rows += [{**job.row, "path": str(png), "video": job.video, "frame": index} for index, png in sampled.frames]
        if n % 200 == 0:
            print(f"[padsweep] import: sampled {n}/{len(jobs)} videos", flush=True)
    if short:
        print(f"[padsweep] import: {len(short)} videos have fewer than {sampling.k} frames; all their frames are "
              f"used (e.g. {short[:5]})", flush=True)
    return rows
