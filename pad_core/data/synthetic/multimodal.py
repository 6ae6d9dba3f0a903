"""Synthetic multimodal (RGB + IR + Depth) face PAD benchmark shaped like MMDG (METHODS.md §3(e)): ``mmdg``.

Four domains named after the MMDG sources - CASIA-CeFA (C), PADISI-Face (P), CASIA-SURF (S), WMCA (W) - each
with its own RGB camera, IR camera (gain: bona fide skin is dim in P, saturated in W) and depth-sensor noise.
Every sample has all three modalities; bona fide faces have real depth relief and warm IR skin. Attacks (print,
replay, mask; CASIA-SURF has cut-out prints only) fail in depth or IR in ways that differ per domain: replays
are dark in IR in C and W but glare in P; masks are cold in IR in C and P but warm in W; prints are flat in C
and W, bent in P, cut out in S. So leave-one-domain-out (P1), missing modalities at test (P2) and two-source
training (P3) are learnable but not trivial (``protocol_defs/mmdg.json``); a linear probe on 16 x 16 pixels of
all three modalities reaches leave-one-out AUC 0.62 (P) to 1.0 (C, S) at scale 0.03.
Nominal counts total 50,000 samples, so ``scale=0.03`` gives about 1,500. Subjects are disjoint across
train (45 %), dev (15 %) and test (40 %) within each domain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pad_core.data.synthetic.device import Device, capture
from pad_core.data.synthetic.face import ETHNICITIES, LIVE_PER_SUBJECT, _split_of
from pad_core.data.synthetic.face_render import ATTACKS, identity_params, render_face, sample_pose
from pad_core.data.synthetic.iris import hash_str
from pad_core.data.synthetic.multimodal_render import (
    DEPTH_CUES,
    DEPTH_SENSORS,
    face_geometry,
    ir_scene,
    to_uint8,
)
from pad_core.data.synthetic.writer import write_benchmark

GENERATOR_VERSION = 1
BONA_FIDE = ("relief", "warm")  # (depth cue, IR cue) of a live face in every domain


@dataclass(frozen=True)
class Domain:
    device: str  # manifest device column: the capture rig
    rgb: Device
    ir: Device
    depth_sensor: str  # DEPTH_SENSORS key
    nominal: int  # samples in the nominal (scale 1) benchmark
    attacks: dict  # attack_type -> (depth cue, IR cue)


DOMAINS = {
    "C": Domain("cefa-realsense", rgb=Device(0.8, 0.6, 0.020, 1.00, 1.00, 0.10, 80, 0.0, (1.03, 1.00, 0.94)),
                ir=Device(0.8, 0.6, 0.020, 1.00, 1.00, 0.10, 0, 0.0), depth_sensor="speckle", nominal=15000,
                attacks={"print": ("flat", "texture_grey"), "replay": ("flat", "dark"),
                         "mask": ("smooth_relief", "cold_mask")}),
    "P": Domain("padisi-rig", rgb=Device(1.0, 0.3, 0.008, 1.00, 0.95, 0.05, 0, 0.0, (0.98, 1.00, 1.03)),
                ir=Device(1.0, 0.4, 0.010, 0.60, 0.90, 0.05, 0, 0.0), depth_sensor="stripes", nominal=11000,
                attacks={"print": ("bent", "dark"), "replay": ("holes", "glare"), "mask": ("relief", "cold_mask")}),
    "S": Domain("surf-sr300", rgb=Device(0.6, 0.7, 0.030, 0.95, 1.05, 0.20, 70, 0.0, (1.04, 1.00, 0.92)),
                ir=Device(0.6, 0.8, 0.030, 0.90, 1.10, 0.20, 0, 0.0), depth_sensor="quantised", nominal=12000,
                attacks={"print": ("cutout", "paper_bright")}),
    "W": Domain("wmca-sr300", rgb=Device(0.9, 0.5, 0.012, 1.10, 0.90, 0.08, 85, 0.0, (1.02, 1.01, 0.97)),
                ir=Device(0.9, 0.5, 0.015, 1.70, 1.00, 0.08, 0, 0.0), depth_sensor="smooth", nominal=12000,
                attacks={"print": ("flat", "paper_bright"), "replay": ("flat", "dark"),
                         "mask": ("smooth_relief", "warm_flat")}),
}


def plan_rows(scale: float, seed: int) -> list[dict]:
    """One row per sample; subject i of a domain lands in train / dev / test by its index (face.py's split)."""
    rows = []
    for name, domain in DOMAINS.items():
        kinds = [(1, "none")] * LIVE_PER_SUBJECT + [(0, a) for a in domain.attacks]
        n = max(8, math.ceil(domain.nominal * scale / len(kinds)))
        for i in range(n):
            subject = f"{name}-s{i:04d}"
            rows += [{"subset": name, "device": domain.device, "split": _split_of(i, n), "label": label,
                      "attack_type": species, "subject": subject, "seed": [seed, hash_str(subject), j]}
                     for j, (label, species) in enumerate(kinds)]
    return rows


def render_row(row: dict, size: int) -> dict[str, np.ndarray]:
    """``{"path": rgb h w 3, "path_ir": h w, "path_depth": h w}``, uint8, a pure function of the row's seeds."""
    subject_rng = np.random.default_rng(row["seed"][:2])
    params = identity_params(subject_rng, ETHNICITIES[int(subject_rng.integers(len(ETHNICITIES)))])
    rng = np.random.default_rng(row["seed"])
    pose = sample_pose(params, rng)
    pose = replace(pose, cx=pose.cx + rng.uniform(-0.08, 0.08), cy=pose.cy + rng.uniform(-0.06, 0.06))  # framing
    rgb = render_face(size, params, pose, rng)
    strength = float(rng.uniform(0.5, 1.0))
    domain = DOMAINS[row["subset"]]
    depth_cue, ir_cue = domain.attacks.get(row["attack_type"], BONA_FIDE)
    if row["label"] == 0:
        rgb = ATTACKS[row["attack_type"]](rgb, rng, strength, pose=pose)
    geo = face_geometry(size, params, pose, rng)
    depth = DEPTH_SENSORS[domain.depth_sensor](DEPTH_CUES[depth_cue](geo, rng, strength), rng)
    ir = ir_scene(ir_cue, geo, rng, strength, rgb)
    return {"path": capture(rgb, domain.rgb, rng), "path_ir": capture(ir.astype(np.float32), domain.ir, rng),
            "path_depth": to_uint8(depth)}


def build(out_dir: Path, *, scale: float, size: int, seed: int) -> Path:
    """Render every sample's three images under ``out_dir/images`` and write ``out_dir/manifest.csv``."""
    return write_benchmark(out_dir, plan_rows(scale, seed), lambda row: render_row(row, size))
