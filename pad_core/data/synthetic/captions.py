"""A captioned-shapes corpus for pretraining the demo's tiny CLIP (image-text contrastive), disjoint from every
synthetic PAD benchmark by construction.

Each pair is a coloured shape (circle, square, triangle, ring, cross, diamond, bar) of some size at some place on a
coloured background with a texture (plain, stripes, checks, dots, noise, gradient), and a caption that names those
attributes in one of several sentence frames. Nothing here renders an eye, a face, a print or a screen, and no PAD
word (live, real, fake, spoof, attack, print, lens, bona fide) is in the vocabulary: the backbone learns to see
shapes, colours and textures and to read their names, as a web-scale CLIP learns generic image-text alignment
before the papers fine-tune it on PAD data.

Pairs are a pure function of ``(seed, index)``; the seed stream is namespaced (``CORPUS_SALT``) so no pair shares
an RNG stream with a benchmark image. Images are rendered on the fly, never written: the corpus is not a
benchmark, and a pretraining run reads each pair once or twice.
"""

from __future__ import annotations

import numpy as np

GENERATOR_VERSION = 1
CORPUS_SALT = 0x5EED_C0DE_CA97  # seed namespace of the corpus (benchmarks seed with [seed, subject hash, i])

COLOURS = {"red": (0.85, 0.15, 0.12), "green": (0.15, 0.70, 0.20), "blue": (0.15, 0.25, 0.85),
           "yellow": (0.92, 0.85, 0.15), "purple": (0.55, 0.20, 0.70), "orange": (0.95, 0.55, 0.10),
           "white": (0.95, 0.95, 0.95), "black": (0.05, 0.05, 0.05), "grey": (0.50, 0.50, 0.50),
           "cyan": (0.15, 0.80, 0.85), "pink": (0.95, 0.55, 0.70), "brown": (0.45, 0.28, 0.12)}
SHAPES = ("circle", "square", "triangle", "ring", "cross", "diamond", "bar")
TEXTURES = ("plain", "striped", "checkered", "dotted", "noisy", "gradient")
SIZES = {"small": (0.14, 0.20), "medium": (0.22, 0.30), "large": (0.32, 0.42)}
PLACES = {"top left": (-0.22, -0.22), "top right": (0.22, -0.22), "bottom left": (-0.22, 0.22),
          "bottom right": (0.22, 0.22), "centre": (0.0, 0.0)}
FRAMES = ("a photo of a {size} {colour} {shape} on a {texture} {ground} background",
          "this is an example of a {colour} {shape} in the {place}, {texture} {ground} behind it",
          "a {size} {shape} coloured {colour} at the {place} of a {ground} {texture} picture",
          "an image showing a {colour} {shape}, {size}, over {texture} {ground}")


def pair(seed: int, index: int, size: int) -> tuple[np.ndarray, str]:
    """(H x W x 3 float32 image in [0, 1], caption) of pair ``index``."""
    rng = np.random.default_rng([CORPUS_SALT, seed, index])
    names = list(COLOURS)
    fg, bg = rng.choice(len(names), size=2, replace=False)
    attrs = {"colour": names[fg], "ground": names[bg], "shape": SHAPES[rng.integers(len(SHAPES))],
             "texture": TEXTURES[rng.integers(len(TEXTURES))], "size": list(SIZES)[rng.integers(len(SIZES))],
             "place": list(PLACES)[rng.integers(len(PLACES))]}
    image = _background(size, COLOURS[attrs["ground"]], attrs["texture"], rng)
    mask = _shape_mask(size, attrs["shape"], SIZES[attrs["size"]], PLACES[attrs["place"]], rng)
    image = np.where(mask[..., None], np.asarray(COLOURS[attrs["colour"]], np.float32), image)
    image = np.clip(image + rng.normal(0, 0.02, image.shape).astype(np.float32), 0.0, 1.0)
    return image, FRAMES[rng.integers(len(FRAMES))].format(**attrs)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size - 0.5
    return yy, xx


def _background(size: int, colour, texture: str, rng: np.random.Generator) -> np.ndarray:
    base = np.broadcast_to(np.asarray(colour, np.float32), (size, size, 3)).copy()
    yy, xx = _grid(size)
    period = rng.uniform(0.08, 0.2)
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    if texture == "striped":
        shade = (np.floor(along / period) % 2) * 0.35
    elif texture == "checkered":
        shade = ((np.floor(xx / period) + np.floor(yy / period)) % 2) * 0.35
    elif texture == "dotted":
        cy, cx = (yy / period) % 1 - 0.5, (xx / period) % 1 - 0.5
        shade = (cy ** 2 + cx ** 2 < 0.09) * 0.4
    elif texture == "noisy":
        shade = rng.uniform(0, 0.4, (size, size)).astype(np.float32)
    elif texture == "gradient":
        shade = (along + 0.7) / 1.4 * 0.5
    else:
        shade = np.zeros((size, size), np.float32)
    darker = base * (1 - shade[..., None])  # texture as darker marks; on black it lightens instead
    return np.where(base.mean() < 0.15, base + shade[..., None] * 0.5, darker).astype(np.float32)


def _shape_mask(size: int, shape: str, extent: tuple[float, float], place: tuple[float, float],
                rng: np.random.Generator) -> np.ndarray:
    yy, xx = _grid(size)
    r = rng.uniform(*extent) / 2
    cx, cy = (np.asarray(place) + rng.uniform(-0.05, 0.05, 2)).tolist()
    x, y = xx - cx, yy - cy
    if shape == "circle":
        return x ** 2 + y ** 2 <= r ** 2
    if shape == "ring":
        d = np.sqrt(x ** 2 + y ** 2)
        return (d <= r) & (d >= r * 0.55)
    if shape == "square":
        return (np.abs(x) <= r) & (np.abs(y) <= r)
    if shape == "diamond":
        return np.abs(x) + np.abs(y) <= r * 1.2
    if shape == "cross":
        arm = r * 0.35
        return ((np.abs(x) <= arm) & (np.abs(y) <= r)) | ((np.abs(y) <= arm) & (np.abs(x) <= r))
    if shape == "bar":
        return (np.abs(x) <= r) & (np.abs(y) <= r * 0.3)
    return (y <= r) & (y >= -r) & (np.abs(x) <= (y + r) / 2)  # triangle, apex up
