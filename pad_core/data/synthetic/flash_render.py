"""Faces lit by a phone screen's flashes, for the synthetic ATR-FAS benchmark (METHODS.md §5(a), §5(e)).

Per frame f and pixel: I_f = albedo * ambient + emission + (albedo * max(0, n.v) + spec) * falloff * flash_f,
with the flash light co-located with the camera (the phone's screen, frontal; v = direction to the camera),
flash_f = colour_f * intensity_f, and spec = k_s * max(0, n.v)^shininess (light and viewer coincide, so the
half vector is v). The ambient and emitted terms are the same in every frame of a sample, so any difference
of frames cancels them exactly in floating point (the identity differential normalisation relies on).
Everything is linear in light: no tone curve (a gamma would break that identity; phones' RAW-like linear
capture is assumed, as the paper's Lambertian argument does).

Arrays are h w (3) float32; coordinates are in units of the image side, centred. Every random choice comes
from the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, shift

FLASH_COLOURS = np.array([[1, 1, 1], [1, 0.2, 0.2], [0.2, 1, 0.2], [0.25, 0.35, 1], [0.2, 1, 1], [1, 0.25, 1],
                          [1, 1, 0.2], [1, 0.6, 0.15]], dtype=np.float32)  # white, R, G, B, C, M, Y, orange
FLASH_RANGE = (0.1, 0.45)  # intensity of the weakest and strongest of the 8 flashes
RELIEF = 0.45  # depth of the face (z = 1) in units of the image side: sets how strongly normals tilt
FACE_FALLOFF, BG_FALLOFF = 0.4, 0.06  # inverse-square fall-off of the flash: face (per unit of z), far wall


@dataclass(frozen=True)
class Ambient:
    level: float  # irradiance of the scene light on a surface facing it
    colour: tuple[float, float, float]  # its colour
    direction: tuple[float, float, float]  # where it comes from (x right, y down, z towards the camera)
    diffuse: float  # share arriving from all directions (sky, walls) rather than from ``direction``
    backdrop: float  # extra gain on the far background (backlight: a bright window behind the subject)


SCENES: dict[str, Ambient] = {  # the paper's eight ambient-light scenes (METHODS.md §5(e))
    "dark_room": Ambient(0.02, (1.0, 0.85, 0.7), (0.0, -0.3, 1.0), 0.8, 1.0),
    "office": Ambient(0.28, (0.95, 1.0, 1.05), (0.0, -0.9, 0.5), 0.5, 1.0),
    "bedroom": Ambient(0.16, (1.05, 0.9, 0.72), (-0.6, -0.4, 0.7), 0.5, 1.0),
    "backlight": Ambient(0.08, (1.0, 1.0, 1.0), (0.0, 0.0, -1.0), 0.9, 7.0),
    "shadow": Ambient(0.22, (0.95, 0.97, 1.0), (0.95, -0.1, 0.3), 0.15, 1.0),
    "cloudy": Ambient(0.3, (0.88, 0.95, 1.1), (0.0, -0.6, 0.8), 0.85, 1.2),
    "sunlight": Ambient(0.4, (1.08, 1.0, 0.9), (0.45, -0.65, 0.6), 0.2, 1.3),
    "street_light": Ambient(0.12, (1.1, 0.72, 0.35), (0.0, -0.95, 0.3), 0.3, 0.8),
}


@dataclass
class Surface:
    """What the camera sees: reflectance, orientation and light sources other than the flash."""

    albedo: np.ndarray  # h w 3 diffuse reflectance
    normals: np.ndarray  # h w 3 unit normals
    falloff: np.ndarray  # h w flash irradiance relative to a surface at the face's distance
    specular: np.ndarray  # h w k_s
    shininess: float  # Phong exponent of the specular lobe
    emission: np.ndarray  # h w 3 light the surface emits itself (a replay screen)
    backdrop: np.ndarray  # h w 1 on the far background (gets Ambient.backdrop), 0 elsewhere


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size - 0.5
    return xx, yy


def blob(xx, yy, x0, y0, rx, ry) -> np.ndarray:
    return np.exp(-(((xx - x0) / rx) ** 2 + ((yy - y0) / ry) ** 2))


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def view_dirs(size: int) -> np.ndarray:
    """h w 3 direction from each surface point to the camera (and flash); a ~60 degree field of view."""
    xx, yy = grid(size)
    return unit(np.stack([-1.2 * xx, -1.2 * yy, np.ones_like(xx)], -1))


def normals_from_height(z: np.ndarray) -> np.ndarray:
    """Unit normals of the height field z (in units of RELIEF * side) seen from the front."""
    size = z.shape[0]
    gy, gx = np.gradient(z * RELIEF * size)
    return unit(np.stack([-gx, -gy, np.ones_like(z)], -1))


def plane_normals(size: int, rng: np.random.Generator) -> np.ndarray:
    """A flat sheet, slightly tilted and bent about the vertical axis (a hand-held print or screen)."""
    xx, _ = grid(size)
    tx, ty, bend = rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), rng.uniform(-0.4, 0.4)
    return unit(np.stack([tx + bend * xx, np.full_like(xx, ty), np.ones_like(xx)], -1))


def flash_sequence(rng: np.random.Generator) -> np.ndarray:
    """8 x 3 flash irradiances: the colours in a random order, intensities increasing (frames sorted by it)."""
    colours = FLASH_COLOURS[rng.permutation(len(FLASH_COLOURS))]
    intensity = np.linspace(*FLASH_RANGE, len(FLASH_COLOURS)) * rng.uniform(0.9, 1.1)
    return (colours * intensity[:, None]).astype(np.float32)


def ambient_light(surface: Surface, amb: Ambient, level: float) -> np.ndarray:
    """h w 3 ambient irradiance: a directional part on the normals plus a uniform part, brighter backdrop."""
    facing = np.clip(surface.normals @ unit(np.array(amb.direction, dtype=np.float32)), 0, None)
    shade = amb.diffuse + (1 - amb.diffuse) * facing
    gain = 1 + (amb.backdrop - 1) * surface.backdrop
    return (level * np.array(amb.colour, dtype=np.float32) * (shade * gain)[..., None]).astype(np.float32)


def render_frames(surface: Surface, flash: np.ndarray, amb: Ambient, level_scale: float = 1.0) -> np.ndarray:
    """Linear radiance of the flash frames, f h w 3 (f = len(flash)), before the camera; not clipped."""
    size = surface.normals.shape[0]
    cos = np.clip(np.einsum("hwc,hwc->hw", surface.normals, view_dirs(size)), 0, None)
    lit = (surface.albedo * cos[..., None] + (surface.specular * cos**surface.shininess)[..., None])
    lit = lit * surface.falloff[..., None]
    still = surface.albedo * ambient_light(surface, amb, amb.level * level_scale) + surface.emission
    return (still[None] + np.einsum("hwc,fc->fhwc", lit, flash)).astype(np.float32)


def face_height(size: int, p: dict, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """(z in [0, 1] with the face's highest point at 1 and the background at 0, soft face mask)."""
    xx, yy = grid(size)
    u, v = (xx - cx) / p["a"], (yy - cy) / p["b"]
    inside = np.clip((1 - (u**2 + v**2)) * size * 0.15, 0, 1)
    z = 0.7 * np.sqrt(np.clip(1 - u**2 - v**2, 0, 1)) + 0.22 * blob(xx, yy, cx, cy + 0.03, 0.02, 0.05)
    for side in (-1, 1):
        ex = cx + side * p["eye_sep"]
        z += -0.07 * blob(xx, yy, ex, cy - 0.04, 0.035, 0.025) + 0.04 * blob(xx, yy, ex, cy - 0.09, 0.05, 0.012)
        z += 0.05 * blob(xx, yy, cx + side * 0.1, cy + 0.06, 0.05, 0.05)  # cheekbones
    z += 0.04 * blob(xx, yy, cx, cy + 0.14, p["mouth_w"], 0.02) + 0.05 * blob(xx, yy, cx, cy + 0.26, 0.06, 0.04)
    z = np.clip(z, 0, None) * inside
    return (z / z.max()).astype(np.float32), inside.astype(np.float32)


def paint_face(size: int, p: dict, cx: float, cy: float, skin: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """h w 3 albedo of the face region: skin (times ``texture``), hair, eye whites and irises, brows, lips."""
    xx, yy = grid(size)
    u, v = (xx - cx) / p["a"], (yy - cy) / p["b"]
    out = np.broadcast_to(skin * texture[..., None], (size, size, 3)).copy()
    hair = ((v < -1 + p["hairline"] * 2) & (u**2 + (v + 0.15) ** 2 < 1.25)).astype(np.float32)[..., None]
    out = out * (1 - hair) + p["hair"] * hair
    marks = [(0.9, 0.035, 0.016, 0, 1.0), (p["eye"] * 0.6, 0.013, 0.013, 0, 1.0), (p["hair"], 0.04, 0.008, -0.045, 0.7)]
    for side in (-1, 1):
        for colour, rx, ry, dy, alpha in marks:
            m = alpha * blob(xx, yy, cx + side * p["eye_sep"], cy - 0.04 + dy, rx, ry)[..., None]
            out = out * (1 - m) + colour * m
    lips = blob(xx, yy, cx, cy + 0.14, p["mouth_w"], 0.014)[..., None]
    return (out * (1 - lips) + np.array([0.6, 0.2, 0.22]) * lips).astype(np.float32)


def _flat_falloff(size: int) -> np.ndarray:
    # A hand-held print or screen sits at about the face's mid-depth, and so does everything shown on it:
    # its "background" is as close to the flash as the face (the far wall of a live capture is not).
    return np.full((size, size), (1 / (1 + FACE_FALLOFF * 0.5)) ** 2, dtype=np.float32)


def live_surface(size: int, p: dict, cx: float, cy: float, wall: np.ndarray,
                 rng: np.random.Generator) -> tuple[Surface, np.ndarray | None]:
    """A real face in front of a far wall; returns its depth map (z in [0, 1]) as the label."""
    z, inside = face_height(size, p, cx, cy)
    texture = 1 + p["texture"] * gaussian_filter(rng.normal(0, 1, (size, size)), 0.6)
    face = paint_face(size, p, cx, cy, np.asarray(p["skin"], dtype=np.float32), texture)
    m = inside[..., None]
    falloff = inside * (1 / (1 + FACE_FALLOFF * (1 - z))) ** 2 + (1 - inside) * BG_FALLOFF
    return Surface(albedo=face * m + wall * (1 - m), normals=normals_from_height(z), falloff=falloff,
                   specular=0.08 * inside, shininess=12.0, emission=np.zeros_like(face), backdrop=1 - inside), z


def photo_of(size: int, p: dict, cx: float, cy: float, wall: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An earlier capture of the face (what a print or a replay shows): its shading is baked in, h w 3 in [0, 1]."""
    live, _ = live_surface(size, p, cx, cy, wall, rng)
    light = unit(np.array([rng.normal(0.3, 0.4), rng.normal(-0.4, 0.3), 1.0], dtype=np.float32))
    img = live.albedo * (0.3 + 0.7 * np.clip(live.normals @ light, 0, None))[..., None]
    return (img / max(float(img.max()), 1e-6) * rng.uniform(0.85, 1.0)).astype(np.float32)


def print_surface(size: int, p: dict, cx: float, cy: float, wall: np.ndarray,
                  rng: np.random.Generator) -> tuple[Surface, np.ndarray | None]:
    """A flat matte paper print: squeezed gamut, halftone dots, near-uniform flash response."""
    photo = photo_of(size, p, cx, cy, wall, rng)
    xx, yy = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(2.6, 3.8) * size / 64
    dots = np.cos(2 * np.pi * xx / period) * np.cos(2 * np.pi * yy / period)
    albedo = 0.85 * (0.7 * photo + 0.3 * photo.mean(-1, keepdims=True)) * (1 + 0.15 * dots[..., None])
    return Surface(albedo=np.clip(albedo, 0, 1).astype(np.float32), normals=plane_normals(size, rng),
                   falloff=_flat_falloff(size), specular=np.full((size, size), 0.03, np.float32), shininess=6.0,
                   emission=np.zeros_like(photo), backdrop=np.zeros((size, size), np.float32)), None


def replay_surface(size: int, p: dict, cx: float, cy: float, wall: np.ndarray,
                   rng: np.random.Generator) -> tuple[Surface, np.ndarray | None]:
    """A phone/monitor screen: it emits the face (with moire and sub-pixel stripes, the same in every frame) and
    reflects the flash off dark glass with a sharp mirror highlight."""
    photo = photo_of(size, p, cx, cy, wall, rng)
    xx, yy = np.mgrid[0:size, 0:size].astype(np.float32)
    f, angle = rng.uniform(0.2, 0.45), rng.uniform(0, np.pi)
    moire = np.cos(2 * np.pi * f * (xx * np.cos(angle) + yy * np.sin(angle)))[..., None]
    stripes = np.stack([np.cos(2 * np.pi * (xx / 3 + k / 3)) for k in range(3)], -1)
    shown = (0.03 + rng.uniform(0.45, 0.8) * photo) * (1 + 0.08 * moire + 0.06 * stripes)
    glass = np.broadcast_to(0.04 * (1 + 0.3 * moire), (size, size, 3))
    return Surface(albedo=glass.astype(np.float32), normals=plane_normals(size, rng), falloff=_flat_falloff(size),
                   specular=np.full((size, size), 0.5, np.float32), shininess=80.0,
                   emission=(shown * np.array([0.95, 0.98, 1.06])).astype(np.float32),
                   backdrop=np.zeros((size, size), np.float32)), None


def mask_surface(size: int, p: dict, cx: float, cy: float, wall: np.ndarray,
                 rng: np.random.Generator) -> tuple[Surface, np.ndarray | None]:
    """A 3D mask: the relief smoothed, flattened and shifted against the wearer's face; uniform resin albedo
    with no skin texture, glossy; the wearer's own eyes show through dark holes at the true eye positions."""
    z, inside = face_height(size, p, cx, cy)
    dy, dx = rng.uniform(-0.05, 0.05, 2) * size
    z = shift(gaussian_filter(z, 0.05 * size), (dy, dx), order=1) * rng.uniform(0.5, 0.75)
    inside = np.clip(shift(inside, (dy, dx), order=1), 0, 1)
    resin = np.array([0.82, 0.7, 0.6], dtype=np.float32) * rng.uniform(0.85, 1.05)
    face = paint_face(size, p, cx + dx / size, cy + dy / size, resin, np.ones((size, size), np.float32))
    xx, yy = grid(size)
    holes = sum(blob(xx, yy, cx + s * p["eye_sep"], cy - 0.04, 0.03, 0.014) for s in (-1, 1))[..., None]
    face = face * (1 - 0.85 * np.clip(holes, 0, 1))
    m = inside[..., None]
    falloff = inside * (1 / (1 + FACE_FALLOFF * (1 - z))) ** 2 + (1 - inside) * BG_FALLOFF
    return Surface(albedo=(face * m + wall * (1 - m)).astype(np.float32), normals=normals_from_height(z),
                   falloff=falloff.astype(np.float32), specular=0.3 * inside, shininess=25.0,
                   emission=np.zeros_like(face), backdrop=1 - inside), None


SURFACES = {"none": live_surface, "print": print_surface, "replay": replay_surface, "mask3d": mask_surface}
