"""Synthetic screen-flash benchmark "flash", shaped like ATR-FAS's private dataset (METHODS.md §5(e)).

Each row is one flash sequence: 8 frames under screen flashes of different colours and increasing intensity
(one PNG strip, frames stacked vertically) plus, for bona fide faces, the depth map (``path_depth``). Attacks:
print, replay and 3D mask (``attack_type`` none/print/replay/mask3d). ``subset`` is the ambient-light scene
(the paper's eight), identical across a sample's frames; ``device`` the phone brand; ``fold`` 0..9 by subject
for the ten-fold cross-validation (``protocol_defs/flash.json``). All rows are split "train": dev is carved by
subject (``manifest.carve_dev``) and each fold tests on its own subjects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pad_core.data.synthetic.face_render import identity_params
from pad_core.data.synthetic.flash_render import SCENES, SURFACES, flash_sequence, render_frames
from pad_core.data.synthetic.iris import hash_str
from pad_core.data.synthetic.writer import write_benchmark

GENERATOR_VERSION = 1
VIDEOS = {"none": 6620, "print": 2120, "replay": 2120, "mask3d": 1800}  # the paper's video counts
SEQUENCES_PER_VIDEO = 3  # flash sequences cut from each ~10 s video (ours): scale 0.03 gives ~1,100 rows
SUBJECTS, MIN_SUBJECTS, FOLDS = 320, 20, 10  # MIN_SUBJECTS: two per fold, so every fold has a test set
TYPE_OFFSET = {"none": 0, "print": 0, "replay": 3, "mask3d": 6}  # spreads each subject's attacks over scenes


@dataclass(frozen=True)
class Phone:
    gain: float  # exposure gain
    white_balance: tuple[float, float, float]  # per-channel gains
    noise: float  # sensor noise sigma per frame (image in [0, 1])
    flash: float  # screen brightness: scales every flash


PHONES = {"apple": Phone(1.0, (1.0, 1.0, 0.98), 0.008, 1.0), "huawei": Phone(1.05, (1.02, 1.0, 0.95), 0.010, 0.9),
          "xiaomi": Phone(0.95, (0.98, 1.0, 1.04), 0.012, 1.1), "samsung": Phone(1.0, (1.0, 0.98, 1.02), 0.010, 0.95)}


def plan_rows(scale: float, seed: int) -> list[dict]:
    """Rows of every attack type, dealt round-robin over the subjects; scenes and phones rotate per subject."""
    n_subjects = max(MIN_SUBJECTS, round(SUBJECTS * scale))
    scenes, phones = list(SCENES), list(PHONES)
    rows = []
    for t, (species, videos) in enumerate(VIDEOS.items()):
        for i in range(max(n_subjects, round(videos * SEQUENCES_PER_VIDEO * scale))):
            s, k = i % n_subjects, i // n_subjects
            subject = f"u{s:04d}"
            rows.append({"subset": scenes[(s + k + TYPE_OFFSET[species]) % len(scenes)], "split": "train",
                         "device": phones[(s + k + t) % len(phones)], "label": int(species == "none"),
                         "attack_type": species, "subject": subject, "fold": s % FOLDS,
                         "seed": [seed, hash_str(subject), t, i]})
    return rows


def render_float(row: dict, size: int, scene: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(8 h w 3 linear radiance, not clipped; depth h w in [0, 1] for bona fide rows, else None).

    ``scene`` overrides the row's ambient scene and changes nothing else (same face, pose, flashes), so the
    ambient-cancellation identity of differential normalisation can be checked on it.
    """
    params = identity_params(np.random.default_rng(row["seed"][:2]), "east_asian")  # Chinese subjects (paper)
    rng = np.random.default_rng(row["seed"])
    cx, cy, wall = rng.normal(0, 0.025), rng.normal(0.02, 0.02), rng.uniform(0.2, 0.8, 3).astype(np.float32)
    surface, depth = SURFACES[row["attack_type"]](size, params, cx, cy, wall, rng)
    flash = flash_sequence(rng) * PHONES[row["device"]].flash
    frames = render_frames(surface, flash, SCENES[scene or row["subset"]], float(rng.uniform(0.75, 1.25)))
    return frames, depth


def capture(frames: np.ndarray, phone: Phone, rng: np.random.Generator) -> np.ndarray:
    """Linear radiance -> uint8 frames: gain and white balance (linear), per-frame noise, clipping."""
    out = frames * phone.gain * np.asarray(phone.white_balance, dtype=np.float32)
    out = out + rng.normal(0, phone.noise, out.shape).astype(np.float32)
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def render_row(row: dict, size: int) -> dict[str, np.ndarray | None]:
    """{"path": 8*size x size x 3 uint8 strip, "path_depth": size x size uint8 depth, or None for attacks}."""
    frames, depth = render_float(row, size)
    noise_rng = np.random.default_rng([*row["seed"], 1])
    strip = capture(frames, PHONES[row["device"]], noise_rng).reshape(-1, size, 3)
    return {"path": strip, "path_depth": None if depth is None else np.round(depth * 255).astype(np.uint8)}


def build(out_dir: Path, *, scale: float, size: int, seed: int) -> Path:
    """Render every sequence under ``out_dir/images`` and write ``out_dir/manifest.csv``."""
    return write_benchmark(out_dir, plan_rows(scale, seed), lambda row: render_row(row, size))
