"""Colour face images and their attacks: print, replay, 3D mask (physical); face swap, adversarial noise
(digital). Coordinates are in units of the image side, centred; every random choice comes from the
generator passed in, so an image is a pure function of its seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

SKIN = {"east_asian": (0.86, 0.71, 0.58), "african": (0.46, 0.32, 0.24), "central_asian": (0.90, 0.74, 0.63)}


@dataclass(frozen=True)
class Pose:
    cx: float
    cy: float
    a: float  # face ellipse half-width
    b: float  # face ellipse half-height
    light: tuple[float, float, float]


def identity_params(rng: np.random.Generator, ethnicity: str) -> dict:
    return {"skin": np.clip(np.array(SKIN[ethnicity]) + rng.normal(0, 0.04, 3), 0.1, 1.0),
            "hair": rng.uniform(0.03, 0.35) * np.array([1.0, 0.85, 0.7]), "eye": rng.uniform(0.1, 0.5, 3),
            "a": rng.uniform(0.24, 0.29), "b": rng.uniform(0.32, 0.38), "eye_sep": rng.uniform(0.09, 0.12),
            "mouth_w": rng.uniform(0.06, 0.09), "texture": rng.uniform(0.015, 0.04), "hairline": rng.uniform(0.15, 0.3)}


def sample_pose(p: dict, rng: np.random.Generator) -> Pose:
    light = np.array([rng.normal(0.3, 0.4), rng.normal(-0.4, 0.3), 1.0])
    return Pose(rng.normal(0, 0.025), rng.normal(0.02, 0.02), p["a"] * rng.uniform(0.95, 1.05),
                p["b"] * rng.uniform(0.95, 1.05), tuple(light / np.linalg.norm(light)))


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size - 0.5
    return xx, yy


def _blob(xx, yy, x0, y0, rx, ry) -> np.ndarray:
    return np.exp(-(((xx - x0) / rx) ** 2 + ((yy - y0) / ry) ** 2))


def render_face(size: int, p: dict, pose: Pose, rng: np.random.Generator) -> np.ndarray:
    """h w 3 in [0, 1]: shaded head ellipsoid with skin texture and specular, hair, eyes, brows, nose, mouth."""
    xx, yy = _grid(size)
    u, v = (xx - pose.cx) / pose.a, (yy - pose.cy) / pose.b
    inside = np.clip((1 - (u**2 + v**2)) * size * 0.15, 0, 1)
    nz = np.sqrt(np.clip(1 - u**2 - v**2, 0, 1))
    normal = np.stack([u, v, nz], -1) / np.linalg.norm(np.stack([u, v, nz + 1e-3], -1), axis=-1, keepdims=True)
    diffuse = np.clip(normal @ np.array(pose.light), 0, 1)
    texture = 1 + p["texture"] * gaussian_filter(rng.normal(0, 1, (size, size)), 0.6)
    skin = p["skin"] * (0.35 + 0.65 * diffuse)[..., None] * texture[..., None]
    skin += 0.25 * (diffuse**12)[..., None]  # specular sheen of real skin
    bg = np.linspace(rng.uniform(0.2, 0.8, 3), rng.uniform(0.2, 0.8, 3), size)[:, None, :].repeat(size, 1)
    img = bg * (1 - inside[..., None]) + skin * inside[..., None]
    hair = ((v < -1 + p["hairline"] * 2) & (u**2 + (v + 0.15) ** 2 < 1.25)).astype(np.float32)
    img = img * (1 - hair[..., None]) + p["hair"] * hair[..., None]
    return np.clip(_features(img, xx, yy, p, pose), 0, 1).astype(np.float32)


def _features(img, xx, yy, p, pose) -> np.ndarray:
    for side in (-1, 1):
        ex, ey = pose.cx + side * p["eye_sep"], pose.cy - 0.04
        white = _blob(xx, yy, ex, ey, 0.035, 0.016)
        img = img * (1 - white[..., None]) + 0.9 * white[..., None]
        iris = _blob(xx, yy, ex, ey, 0.013, 0.013)
        img = img * (1 - iris[..., None]) + p["eye"] * iris[..., None] * 0.6
        brow = _blob(xx, yy, ex, ey - 0.045, 0.04, 0.008)
        img = img * (1 - 0.7 * brow[..., None]) + p["hair"] * 0.7 * brow[..., None]
    nose = _blob(xx, yy, pose.cx + 0.01, pose.cy + 0.05, 0.012, 0.045)
    mouth = _blob(xx, yy, pose.cx, pose.cy + 0.14, p["mouth_w"], 0.014)
    img = img * (1 - 0.25 * nose[..., None])
    return img * (1 - mouth[..., None]) + np.array([0.6, 0.2, 0.22]) * mouth[..., None]


def print_attack(img, rng, strength: float, **_) -> np.ndarray:
    """Paper print re-imaged: gamut squeezed towards grey, CMY halftone dots, paper grain, flat re-lighting."""
    size = img.shape[0]
    grey = img.mean(-1, keepdims=True)
    out = img * (1 - 0.35 * strength) + grey * 0.35 * strength
    xx, yy = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(2.6, 3.8) * size / 64
    dots = np.stack([np.cos(2 * np.pi * (xx + k) / period) * np.cos(2 * np.pi * (yy + k) / period) for k in (0, 1, 2)],
                    -1)
    grain = zoom(rng.normal(0, 1, (size // 8, size // 8)), 8, order=1)[:size, :size, None]
    relight = np.linspace(rng.uniform(0.85, 1.0), rng.uniform(0.85, 1.0), size)[:, None, None]
    out = np.minimum(out, 1 - 0.25 * strength) * relight * (1 + 0.22 * strength * dots) + 0.03 * strength * grain
    return np.clip(out, 0, 1).astype(np.float32)


def replay_attack(img, rng, strength: float, **_) -> np.ndarray:
    """Screen replay: moire beat pattern, RGB sub-pixel stripes, lifted blacks, blue cast, glare."""
    size = img.shape[0]
    xx, yy = np.mgrid[0:size, 0:size].astype(np.float32)
    f, angle = rng.uniform(0.2, 0.45), rng.uniform(0, np.pi)
    moire = np.cos(2 * np.pi * f * (xx * np.cos(angle) + yy * np.sin(angle)))[..., None]
    stripes = np.stack([np.cos(2 * np.pi * (xx / 3 + k / 3)) for k in range(3)], -1)
    out = 0.06 * strength + (1 - 0.06 * strength) * img ** (1 - 0.2 * strength)
    out = out * (1 + 0.08 * strength * moire + 0.06 * strength * stripes) * np.array([0.95, 0.98, 1.06])
    glare = _blob(*np.meshgrid(np.linspace(-0.5, 0.5, size), np.linspace(-0.5, 0.5, size)), *rng.uniform(-0.3, 0.3, 2),
                  0.12, 0.2)
    return np.clip(out + 0.35 * strength * rng.uniform(0.3, 1) * glare[..., None], 0, 1).astype(np.float32)


def mask_attack(img, rng, strength: float, **_) -> np.ndarray:
    """3D mask: skin texture smoothed away, uniform tint, glossy highlight, darker eye holes."""
    smooth = gaussian_filter(img, (1.2 * strength, 1.2 * strength, 0))
    tint = np.array([1.0, 0.96, 0.9]) * rng.uniform(0.9, 1.05)
    out = smooth * tint
    lum = smooth.mean(-1, keepdims=True)
    out = out + 0.3 * strength * np.clip(lum - 0.55, 0, 1)  # plastic gloss on bright areas
    return np.clip(out, 0, 1).astype(np.float32)


def faceswap_attack(img, rng, strength: float, *, donor: np.ndarray, pose: Pose, **_) -> np.ndarray:
    """Face swap: the inner face of another identity (same pose and light) blended in, slightly resampled,
    with a colour mismatch and a visible blending seam."""
    size = img.shape[0]
    xx, yy = _grid(size)
    r = np.sqrt(((xx - pose.cx) / (0.75 * pose.a)) ** 2 + ((yy - pose.cy + 0.02) / (0.7 * pose.b)) ** 2)
    alpha = np.clip((1 - r) * size * 0.12, 0, 1)[..., None]
    donor = gaussian_filter(donor, (0.6 * strength, 0.6 * strength, 0)) * (1 + rng.normal(0, 0.05 * strength, 3))
    seam = np.exp(-((r - 1) * size * 0.3) ** 2)[..., None] * 0.08 * strength
    return np.clip(img * (1 - alpha) + donor * alpha - seam, 0, 1).astype(np.float32)


def adversarial_attack(img, rng, strength: float, **_) -> np.ndarray:
    """Adversarial-noise-like perturbation: sign of band-pass noise, eps in 3..11 / 255."""
    noise = rng.normal(0, 1, img.shape)
    band = noise - gaussian_filter(noise, (1.5, 1.5, 0))
    eps = (3 + 8 * strength) / 255
    return np.clip(img + eps * np.sign(band), 0, 1).astype(np.float32)


ATTACKS = {"print": print_attack, "replay": replay_attack, "mask": mask_attack, "faceswap": faceswap_attack,
           "adversarial": adversarial_attack}
PHYSICAL, DIGITAL = ("print", "replay", "mask"), ("faceswap", "adversarial")
