"""Synthetic benchmark with IrisGeneral's structure (METHODS.md §2(e), MMoE Table 1).

Ten subsets on six devices with the paper's train/test bona fide/attack counts scaled by ``scale``;
H and F hold Asian subjects only (P2 is cross-race); attacks are prints and textured contact lenses;
every image goes through its subset's capture device. Subjects are disjoint across train, dev and
test; dev takes ``DEV_SHARE`` of each subset's training subjects (the paper has no dev split).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pad_core.data.synthetic.device import DEVICES, capture
from pad_core.data.synthetic.iris_render import ATTACKS, render_eye, subject_params
from pad_core.data.synthetic.writer import write_benchmark

GENERATOR_VERSION = 2  # v2: identity seeds hash the whole subject id (v1 collapsed ids sharing 7 leading bytes)
DEV_SHARE = 0.15
IMAGES_PER_SUBJECT = 4


@dataclass(frozen=True)
class SubsetSpec:
    device: str
    race: str  # "asian" or "mixed"
    train: tuple[int, int]  # (bona fide, attack) in the real dataset
    test: tuple[int, int]
    attacks: tuple[str, ...]  # attack species present (our assumption where Table 1 is silent)


SUBSETS: dict[str, SubsetSpec] = {
    "H": SubsetSpec("H100", "asian", (4806, 592), (1198, 148), ("print",)),
    "Da": SubsetSpec("DALSA", "mixed", (270, 400), (246, 440), ("contact_lens",)),
    "Db": SubsetSpec("DALSA", "mixed", (700, 873), (378, 558), ("print", "contact_lens")),
    "La": SubsetSpec("LG2200", "mixed", (450, 540), (378, 576), ("print", "contact_lens")),
    "Lb": SubsetSpec("LG2200", "mixed", (2469, 1122), (1485, 765), ("print", "contact_lens")),
    "F": SubsetSpec("AI1000", "asian", (20000, 20000), (5000, 5000), ("print", "contact_lens")),
    "Ga": SubsetSpec("LG4000", "mixed", (2000, 1000), (800, 400), ("contact_lens",)),
    "Aa": SubsetSpec("AD100", "mixed", (400, 200), (200, 100), ("contact_lens",)),
    "Gb": SubsetSpec("LG4000", "mixed", (600, 600), (900, 900), ("contact_lens",)),
    "Ab": SubsetSpec("AD100", "mixed", (0, 0), (900, 900), ("contact_lens",)),
}


def scaled(count: int, scale: float, minimum: int = 6) -> int:
    return 0 if count == 0 else max(minimum, int(round(count * scale)))


def _race_of(spec: SubsetSpec, rng: np.random.Generator) -> str:
    return spec.race if spec.race == "asian" else ("asian" if rng.random() < 0.2 else "other")


def _rows_for(subset: str, split: str, label: int, n: int, seed: int) -> list[dict]:
    """Rows (with subject ids and seeds) of one (subset, split, label) cell."""
    spec = SUBSETS[subset]
    n_subjects = max(1, math.ceil(n / IMAGES_PER_SUBJECT))
    kind = "live" if label == 1 else "atk"
    rows = []
    for i in range(n):
        species = "none" if label == 1 else spec.attacks[i % len(spec.attacks)]
        subject = f"{subset}-{split}-{kind}{i % n_subjects:04d}"
        rows.append({"subset": subset, "device": spec.device, "split": split, "label": label,
                     "attack_type": species, "subject": subject, "seed": [seed, hash_str(subject), i]})
    return rows


def hash_str(text: str) -> int:
    """A stable 60-bit seed from a whole string (every subject id gets its own identity)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def _split_dev(rows: list[dict]) -> list[dict]:
    """Move DEV_SHARE of the training subjects of a cell to dev (identity-disjoint)."""
    subjects = sorted({r["subject"] for r in rows})
    n_dev = max(1, int(round(len(subjects) * DEV_SHARE))) if len(subjects) >= 3 else 0
    dev_subjects = set(subjects[:n_dev])
    for r in rows:
        if r["subject"] in dev_subjects:
            r["split"] = "dev"
            r["subject"] = r["subject"].replace("-train-", "-dev-")
    return rows


def plan_rows(scale: float, seed: int) -> list[dict]:
    rows: list[dict] = []
    for subset, spec in SUBSETS.items():
        for split, counts in (("train", spec.train), ("test", spec.test)):
            for label, count in ((1, counts[0]), (0, counts[1])):
                cell = _rows_for(subset, split, label, scaled(count, scale), seed)
                rows.extend(_split_dev(cell) if split == "train" else cell)
    return rows


def render_row(row: dict, size: int) -> np.ndarray:
    subject_rng = np.random.default_rng(row["seed"][:2])
    params = subject_params(subject_rng, _race_of(SUBSETS[row["subset"]], subject_rng))
    rng = np.random.default_rng(row["seed"])
    img, geom = render_eye(size, params, rng)
    if row["label"] == 0:
        img = ATTACKS[row["attack_type"]](img, geom, rng, strength=float(rng.uniform(0.25, 1.0)))
    return capture(img, DEVICES[row["device"]], rng)


def build(out_dir: Path, *, scale: float, size: int, seed: int) -> Path:
    """Render every image under ``out_dir/images`` and write ``out_dir/manifest.csv``."""
    return write_benchmark(out_dir, plan_rows(scale, seed), lambda row: render_row(row, size))
