"""Near-infrared eye images: bona fide irises and their attacks (print, textured contact lens).

Coordinates are in units of the image side, centred. Every random choice comes from the generator
passed in, so an image is a pure function of its seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import zoom


@dataclass(frozen=True)
class Geometry:
    cx: float
    cy: float
    iris_r: float
    pupil_r: float


def subject_params(rng: np.random.Generator, race: str) -> dict:
    """Per-identity iris appearance. ``race`` shifts the distributions (IrisGeneral P2 is cross-race)."""
    dark = race == "asian"
    k = 6
    return {
        "level": rng.uniform(0.20, 0.30) if dark else rng.uniform(0.30, 0.46),
        "contrast": rng.uniform(0.05, 0.10) if dark else rng.uniform(0.09, 0.18),
        "freq": rng.integers(5, 16 if dark else 28, size=k),
        "radial": rng.uniform(1.0, 6.0, size=k),
        "phase": rng.uniform(0, 2 * np.pi, size=k),
        "crypts": rng.uniform(size=(4 if dark else 8, 3)),
        "iris_r": rng.uniform(0.28, 0.34),
        "sclera": rng.uniform(0.55, 0.70),
    }


def _polar(size: int, geom: Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size - 0.5
    dx, dy = xx - geom.cx, yy - geom.cy
    return np.hypot(dx, dy), np.arctan2(dy, dx), xx, yy


def _iris_texture(p: dict, r: np.ndarray, th: np.ndarray, geom: Geometry, rot: float) -> np.ndarray:
    rn = (r - geom.pupil_r) / max(geom.iris_r - geom.pupil_r, 1e-3)
    tex = sum(np.cos(f * (th + rot) + a * 2 * np.pi * rn + ph) for f, a, ph in zip(p["freq"], p["radial"], p["phase"]))
    tex = tex / len(p["freq"])
    for t0, r0, s0 in p["crypts"]:
        d2 = (np.angle(np.exp(1j * (th + rot - 2 * np.pi * t0))) * 0.6) ** 2 + (rn - 0.2 - 0.6 * r0) ** 2
        tex -= 0.9 * np.exp(-d2 / (0.004 + 0.01 * s0))
    return p["level"] + p["contrast"] * tex - 0.06 * rn  # darker towards the limbus


def render_eye(size: int, p: dict, rng: np.random.Generator) -> tuple[np.ndarray, Geometry]:
    """A bona fide NIR eye: sclera/skin, textured iris, dark pupil with specular reflection, eyelids."""
    geom = Geometry(rng.normal(0, 0.02), rng.normal(0, 0.02), p["iris_r"], p["iris_r"] * rng.uniform(0.3, 0.5))
    r, th, xx, yy = _polar(size, geom)
    img = np.full((size, size), p["sclera"], dtype=np.float32) - 0.08 * (xx**2 + yy**2)
    iris = _iris_texture(p, r, th, geom, rng.uniform(-0.3, 0.3))
    limbus = np.clip((geom.iris_r - r) * size / 1.5, 0, 1)
    img = img * (1 - limbus) + iris * limbus
    pupil = np.clip((geom.pupil_r - r) * size / 1.0, 0, 1)
    img = img * (1 - pupil) + 0.05 * pupil
    sx, sy = geom.cx + rng.uniform(-0.4, 0.4) * geom.pupil_r, geom.cy + rng.uniform(-0.4, 0.4) * geom.pupil_r
    img = np.maximum(img, 0.97 * np.exp(-((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * (0.012 + 0.006 * rng.random()) ** 2)))
    return _eyelids(img, xx, yy, geom, rng), geom


def _eyelids(img: np.ndarray, xx: np.ndarray, yy: np.ndarray, geom: Geometry, rng: np.random.Generator) -> np.ndarray:
    top = geom.cy - geom.iris_r * rng.uniform(0.65, 1.05) + 0.9 * (xx - geom.cx) ** 2
    bottom = geom.cy + geom.iris_r * rng.uniform(0.8, 1.2) - 0.7 * (xx - geom.cx) ** 2
    skin = np.float32(rng.uniform(0.45, 0.6))
    lid = np.clip((top - yy) * img.shape[0] / 1.5, 0, 1) + np.clip((yy - bottom) * img.shape[0] / 1.5, 0, 1)
    lashes = (np.sin(xx * rng.uniform(150, 260)) > 0.6) & (yy < top + 0.03) & (yy > top - 0.05)
    out = img * (1 - np.clip(lid, 0, 1)) + skin * np.clip(lid, 0, 1)
    return np.where(lashes, out * 0.45, out).astype(np.float32)


def print_attack(img: np.ndarray, geom: Geometry, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A printed eye re-imaged: compressed tones, halftone dots, paper grain, a matte (not specular) highlight."""
    size = img.shape[0]
    period = rng.uniform(2.6, 4.0) * size / 64
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi / 4)
    u, v = xx * np.cos(angle) + yy * np.sin(angle), -xx * np.sin(angle) + yy * np.cos(angle)
    halftone = np.cos(2 * np.pi * u / period) * np.cos(2 * np.pi * v / period)
    squeeze = 0.3 * strength  # weak prints keep most of the tonal range
    flat = 0.12 * squeeze / 0.3 + (1 - squeeze) * np.minimum(img, 1 - 0.2 * strength)  # ink misses the specular peak
    grain = zoom(rng.normal(0, 1, (size // 8, size // 8)), 8, order=1)[:size, :size]
    out = flat * (1 + 0.35 * strength * halftone) + 0.03 * strength * grain
    return np.clip(out, 0, 1).astype(np.float32)


def lens_attack(img: np.ndarray, geom: Geometry, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A textured cosmetic contact lens: a printed dot pattern over the iris annulus with a sharp outer edge."""
    r, th, _, _ = _polar(img.shape[0], geom)
    size = img.shape[0]
    r_out, r_in = geom.iris_r * rng.uniform(1.02, 1.12), geom.pupil_r * rng.uniform(1.05, 1.35)
    ring = np.clip((r_out - r) * size / 0.8, 0, 1) * np.clip((r - r_in) * size / 1.2, 0, 1)
    k_th, k_r = rng.integers(18, 48), rng.uniform(60, 140)
    dots = (np.cos(k_th * th) * np.cos(k_r * r) > rng.uniform(0.0, 0.4)).astype(np.float32)
    opacity = strength * rng.uniform(0.35, 0.7)
    lens = rng.uniform(0.15, 0.45) + 0.25 * dots
    edge = np.exp(-(((r - r_out) * size) ** 2) / 0.8) * 0.5 * strength
    out = img * (1 - opacity * ring) + opacity * ring * lens - edge * 0.3
    return np.clip(out, 0, 1).astype(np.float32)


ATTACKS = {"print": print_attack, "contact_lens": lens_attack}
