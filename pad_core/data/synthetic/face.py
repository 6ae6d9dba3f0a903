"""Synthetic face PAD benchmarks shaped like UniAttackData and JFSFDB (METHODS.md §4(e), §6(e)).

``uniattack``: subjects of three ethnicities captured in four domains; bona fide faces, physical attacks
(print, replay) and digital attacks (face swap, adversarial noise), so P1, P2.1 (unseen physical) and P2.2
(unseen digital) are row selections by ``attack_category`` (none/physical/digital), the column the real release's
importer fills too (``protocol_defs/uniattackdata.json``).
``jfsfdb``: nine subsets named after JFSFDB's (six physical-attack sets, three deepfake sets), each its own
capture domain, for joint-training and leave-one-subset-out protocols (``protocol_defs/jfsfdb.json``).
Subjects are disjoint across train (45 %), dev (15 %) and test (40 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pad_core.data.synthetic.device import FACE_DEVICES, capture
from pad_core.data.synthetic.face_render import ATTACKS, DIGITAL, PHYSICAL, identity_params, render_face, sample_pose
from pad_core.data.synthetic.iris import hash_str
from pad_core.data.synthetic.writer import write_benchmark

# v2: identity seeds hash the whole subject id; v3: attack strength U(0.5, 1); v4: attack_category column;
# v5: jfsfdb's video column
GENERATOR_VERSION = 5
LIVE_PER_SUBJECT = 2
SPLIT_SHARES = (("train", 0.45), ("dev", 0.15), ("test", 0.40))
ETHNICITIES = ("east_asian", "african", "central_asian")
CATEGORY = {"none": "none", **{a: "physical" for a in PHYSICAL}, **{a: "digital" for a in DIGITAL}}


@dataclass(frozen=True)
class FaceSubset:
    device: str  # capture domain (FACE_DEVICES)
    attacks: tuple[str, ...]  # attack species recorded in this subset
    share: float  # share of the benchmark's subjects


UNIATTACK = {f"D{i + 1}": FaceSubset(dev, ("print", "replay", "faceswap", "adversarial"), 0.25)
             for i, dev in enumerate(("phone", "webcam", "dslr", "outdoor"))}
JFSFDB = {
    "SiW": FaceSubset("phone", ("print", "replay"), 0.13), "3DMAD": FaceSubset("dslr", ("mask",), 0.08),
    "HKBU-MARs": FaceSubset("webcam", ("mask",), 0.08), "MSU-MFSD": FaceSubset("webcam", ("print", "replay"), 0.10),
    "3DMask": FaceSubset("outdoor", ("mask",), 0.08), "ROSE-Youtu": FaceSubset("phone", ("print", "replay", "mask"),
                                                                               0.13),
    "FF++": FaceSubset("dslr", ("faceswap",), 0.14), "DFDC": FaceSubset("outdoor", ("faceswap",), 0.14),
    "Celeb-DF": FaceSubset("phone", ("faceswap",), 0.12),
}
LAYOUTS = {"uniattack": (UNIATTACK, 28706), "jfsfdb": (JFSFDB, 20000)}  # nominal image counts


def _split_of(i: int, n: int) -> str:
    edge = 0.0
    for split, share in SPLIT_SHARES:
        edge += share
        if i < round(edge * n):
            return split
    return "test"


def plan_rows(layout: str, scale: float, seed: int) -> list[dict]:
    subsets, nominal = LAYOUTS[layout]
    rows = []
    for name, spec in subsets.items():
        per_subject = LIVE_PER_SUBJECT + len(spec.attacks)
        n = max(8, math.ceil(nominal * scale * spec.share / per_subject))
        for i in range(n):
            subject = f"{name}-s{i:04d}"
            kinds = [(1, "none")] * LIVE_PER_SUBJECT + [(0, a) for a in spec.attacks]
            rows += [{"subset": name, "device": spec.device, "split": _split_of(i, n), "label": label,
                      "attack_type": species, "attack_category": CATEGORY[species], "subject": subject,
                      # JFSFDB scores per video (protocol_defs/jfsfdb.json): a subject's images of one kind form one
                      **({"video": f"{subject}/{species}"} if layout == "jfsfdb" else {}),
                      "seed": [seed, hash_str(subject), j]}
                     for j, (label, species) in enumerate(kinds)]
    return rows


def render_row(row: dict, size: int) -> np.ndarray:
    subject_rng = np.random.default_rng(row["seed"][:2])
    params = identity_params(subject_rng, ETHNICITIES[int(subject_rng.integers(len(ETHNICITIES)))])
    rng = np.random.default_rng(row["seed"])
    pose = sample_pose(params, rng)
    img = render_face(size, params, pose, rng)
    if row["label"] == 0:
        donor = render_face(size, identity_params(rng, ETHNICITIES[int(rng.integers(3))]), pose, rng)
        img = ATTACKS[row["attack_type"]](img, rng, float(rng.uniform(0.5, 1.0)), donor=donor, pose=pose)
    return capture(img, FACE_DEVICES[row["device"]], rng)


def build_layout(layout: str, out_dir: Path, *, scale: float, size: int, seed: int) -> Path:
    return write_benchmark(out_dir, plan_rows(layout, scale, seed), lambda row: render_row(row, size))


class _Builder:
    """The module-like interface ``synthetic.materialize`` expects, for one layout."""

    GENERATOR_VERSION = GENERATOR_VERSION

    def __init__(self, layout: str) -> None:
        self.layout = layout

    def build(self, out_dir: Path, *, scale: float, size: int, seed: int) -> Path:
        return build_layout(self.layout, out_dir, scale=scale, size=size, seed=seed)


UNIATTACK_BUILDER, JFSFDB_BUILDER = _Builder("uniattack"), _Builder("jfsfdb")
