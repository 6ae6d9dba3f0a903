"""Depth and IR scenes of faces and attacks for the synthetic MMDG-like benchmark (RGB comes from face_render).

A bona fide face has real relief in depth (head ellipsoid, nose, eye sockets) and warm, structured skin in
IR (eyes and hair cooler). Every attack gets a (depth cue, IR cue) pair chosen per domain
(:mod:`~pad_core.data.synthetic.multimodal`): flat or bent sheets, sensor drop-outs on screens, smooth
masks; dark, glaring, paper-bright or cold IR. Each domain's depth sensor adds its own noise pattern to bona
fide and attack alike. Scenes are h w floats in [0, 1] (depth: 1 = near); coordinates are in units of the
image side, centred, as in face_render.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from pad_core.data.synthetic.face_render import Pose


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size - 0.5
    return xx, yy


def _blob(xx, yy, x0, y0, rx, ry) -> np.ndarray:
    return np.exp(-(((xx - x0) / rx) ** 2 + ((yy - y0) / ry) ** 2))


@dataclass(frozen=True)
class FaceGeometry:
    """Per-pixel maps of one face (h w each)."""

    inside: np.ndarray  # soft face-ellipse mask
    dome: np.ndarray  # ellipsoid height, 0 at the rim, 1 at the centre
    relief: np.ndarray  # dome + nose - eye sockets: the real face surface
    eyes: np.ndarray  # both eye blobs
    hair: np.ndarray  # hair mask
    sheet: np.ndarray  # a print / screen held over the face (soft rectangle)
    xx: np.ndarray
    yy: np.ndarray


def face_geometry(size: int, p: dict, pose: Pose, rng: np.random.Generator) -> FaceGeometry:
    xx, yy = _grid(size)
    u, v = (xx - pose.cx) / pose.a, (yy - pose.cy) / pose.b
    inside = np.clip((1 - (u**2 + v**2)) * size * 0.15, 0, 1)
    dome = np.sqrt(np.clip(1 - u**2 - v**2, 0, 1))
    eyes = sum(_blob(xx, yy, pose.cx + s * p["eye_sep"], pose.cy - 0.04, 0.04, 0.025) for s in (-1, 1))
    nose = _blob(xx, yy, pose.cx + 0.01, pose.cy + 0.04, 0.025, 0.06)
    relief = dome + 0.35 * nose - 0.25 * eyes
    hair = ((v < -1 + p["hairline"] * 2) & (u**2 + (v + 0.15) ** 2 < 1.25)).astype(np.float32)
    margin = rng.uniform(1.05, 1.6)  # a photo cut close to the face, up to a sheet well beyond it
    sheet = np.clip(np.minimum(margin * pose.a - abs(xx - pose.cx), margin * pose.b - abs(yy - pose.cy)) * size, 0, 1)
    return FaceGeometry(inside, dome, relief, eyes, hair, sheet, xx, yy)


def _over(region: np.ndarray, value: np.ndarray, background: float) -> np.ndarray:
    return background * (1 - region) + value * region


# Depth cues: (geometry, rng, strength) -> depth scene. Background is far (0.08).
def depth_relief(geo, rng, strength):
    return _over(geo.inside, 0.4 + 0.45 * geo.relief * rng.uniform(0.9, 1.1), 0.08)


def depth_flat(geo, rng, strength):
    """A sheet held flat (slightly tilted): no relief at all."""
    tilt = rng.uniform(-0.3, 0.3, 2)
    return _over(geo.sheet, 0.55 + tilt[0] * geo.xx + tilt[1] * geo.yy, 0.08)


def depth_bent(geo, rng, strength):
    """A print curved around a vertical axis: horizontal curvature, but no nose or eye sockets."""
    half = 1.5 * abs(geo.xx - geo.xx.mean()).max()
    bend = np.sqrt(np.clip(1 - (geo.xx / half) ** 2, 0, 1))
    return _over(geo.sheet, 0.4 + 0.35 * strength * bend, 0.08)


def depth_holes(geo, rng, strength):
    """Screens defeat the active depth sensor: mostly invalid (0) over the screen, a few stray returns."""
    stray = (rng.random(geo.xx.shape) < 0.15) * rng.uniform(0.3, 0.7, geo.xx.shape)
    return _over(geo.sheet, stray, 0.08)


def depth_smooth_relief(geo, rng, strength):
    """A mask: a too-smooth, too-deep dome without nose or eye sockets."""
    return _over(geo.inside, 0.35 + (0.5 + 0.2 * strength) * gaussian_filter(geo.dome, 1.5), 0.08)


def depth_cutout(geo, rng, strength):
    """A flat print with the eyes cut out (CASIA-SURF): the real face shows only through the holes."""
    holes = np.clip(2 * geo.eyes, 0, 1)
    flat = depth_flat(geo, rng, strength)
    return flat * (1 - holes) + depth_relief(geo, rng, strength) * holes


DEPTH_CUES = {"relief": depth_relief, "flat": depth_flat, "bent": depth_bent, "holes": depth_holes,
              "smooth_relief": depth_smooth_relief, "cutout": depth_cutout}


# IR cues: (geometry, rng, strength, rgb scene) -> (IR values, the region they cover); :func:`ir_scene` puts
# the region into a room of random IR level.
def ir_warm(geo, rng, strength, rgb):
    skin = (0.5 + 0.3 * geo.dome) * rng.uniform(0.9, 1.1) - 0.3 * geo.eyes
    return skin * (1 - geo.hair) + 0.08 * geo.hair, np.clip(geo.inside + geo.hair, 0, 1)


def ir_texture_grey(geo, rng, strength, rgb):
    """The printed picture's own grey levels under the IR illuminator: structure, but no warmth gradient."""
    return 0.15 + 0.6 * rgb.mean(-1), geo.sheet


def ir_paper_bright(geo, rng, strength, rgb):
    return rng.uniform(0.7, 0.85) + 0.1 * rgb.mean(-1), geo.sheet


def ir_dark(geo, rng, strength, rgb):
    """Screens emit no near-IR: a dark rectangle with a faint ghost of the picture."""
    return rng.uniform(0.02, 0.08) + 0.08 * (1 - strength) * rgb.mean(-1), geo.sheet


def ir_glare(geo, rng, strength, rgb):
    """A hot, glaring screen: bright and saturated in its middle."""
    return 0.55 + 0.5 * strength * _blob(geo.xx, geo.yy, *rng.uniform(-0.1, 0.1, 2), 0.25, 0.3), geo.sheet


def ir_cold_mask(geo, rng, strength, rgb):
    """A cold mask: dim and flat, except the wearer's warm eyes behind the eye holes."""
    return 0.25 + 0.05 * geo.dome + 0.45 * geo.eyes, geo.inside


def ir_warm_flat(geo, rng, strength, rgb):
    """A mask worn long enough to take the wearer's heat: warm like skin, but flat - no dome, no cool eyes."""
    return (0.55 + 0.1 * (1 - strength)) * rng.uniform(0.9, 1.1) * (1 - geo.hair) + 0.08 * geo.hair, \
        np.clip(geo.inside + geo.hair, 0, 1)


IR_CUES = {"warm": ir_warm, "warm_flat": ir_warm_flat, "texture_grey": ir_texture_grey,
           "paper_bright": ir_paper_bright, "dark": ir_dark, "glare": ir_glare, "cold_mask": ir_cold_mask}


def ir_scene(cue: str, geo: FaceGeometry, rng, strength: float, rgb: np.ndarray) -> np.ndarray:
    """The cue's region in a room of random IR level, under a random exposure; each domain's IR camera gain
    (multimodal.DOMAINS) then sets where bona fide skin lands - dim in one domain, saturated in another."""
    values, region = IR_CUES[cue](geo, rng, strength, rgb)
    return rng.uniform(0.85, 1.15) * (values * region + rng.uniform(0.05, 0.4) * (1 - region))


# Depth sensors: (depth scene, rng) -> measured depth. Each domain's pattern marks bona fide and attacks alike.
def sensor_speckle(depth, rng):
    dropout = rng.random(depth.shape) < 0.02
    return np.where(dropout, 0.0, depth * (1 + rng.normal(0, 0.03, depth.shape)))


def sensor_stripes(depth, rng):
    rows = np.arange(depth.shape[0])[:, None] * 64 / depth.shape[0]
    return depth + 0.03 * np.sin(2 * np.pi * rows / rng.uniform(5, 7) + rng.uniform(0, 6.3)) \
        + rng.normal(0, 0.01, depth.shape)


def sensor_quantised(depth, rng):
    edges = np.hypot(*np.gradient(depth)) * depth.shape[0] / 64 > 0.08  # no return at depth edges
    return np.where(edges, 0.0, np.round(depth * 24) / 24)


def sensor_smooth(depth, rng):
    return gaussian_filter(depth, 1.0) + rng.normal(0, 0.015, depth.shape)


DEPTH_SENSORS = {"speckle": sensor_speckle, "stripes": sensor_stripes, "quantised": sensor_quantised,
                 "smooth": sensor_smooth}


def to_uint8(scene: np.ndarray) -> np.ndarray:
    return (np.clip(scene, 0, 1) * 255).astype(np.uint8)
