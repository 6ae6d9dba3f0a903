"""Image files read the same way everywhere: by the preflight (:func:`inspect`) and by every dataset (:func:`decode`).

Three rules, each because the naive ``Image.open(...).convert("RGB")`` got it wrong:

- 16-bit greyscale (PIL modes ``I;16*``, and ``I``/``F``; NIR and depth cameras write them) is scaled by its bit
  depth to [0, 1]. ``convert("RGB")`` clips every value above 255, so a depth map became an all-white image.
- At most :data:`MAX_IMAGE_PIXELS` pixels. PAD images are small (face crops, 640x480 iris frames, 8-frame flash
  strips); a file far larger is a wrong file or a decompression bomb, and is refused by name instead of PIL's
  ``DecompressionBombError`` traceback (PIL's own limit is ~89 MP for a warning, ~179 MP for the error).
- At least :data:`MIN_IMAGE_SIDE` pixels on each side: a 1x1 or 8x8 "image" is a placeholder (an export that
  failed, a missing-frame stand-in), not a sample; resized to the model's size it would be a flat colour.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pad_core.errors import DataError

MIN_IMAGE_SIDE = 16  # pixels; the synthetic benchmarks are >= 32 (data.synth_size), real PAD images far larger
MAX_IMAGE_PIXELS = 50_000_000  # ~8660 x 5773: above any PAD camera's frame, below PIL's 89 MP bomb warning
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
PROBLEMS = {  # ImageFacts.problem -> how the preflight states it of several files
    "undecodable": "cannot be decoded",
    "tiny": f"are smaller than {MIN_IMAGE_SIDE} px on a side (placeholders?)",
    "huge": f"have more than {MAX_IMAGE_PIXELS:,} pixels (wrong files or decompression bombs)",
}
SINGULAR = {  # ... and of one file, when a dataset meets it (it was not checked before training)
    "undecodable": "cannot be decoded",
    "tiny": f"is smaller than {MIN_IMAGE_SIDE} px on a side (a placeholder?)",
    "huge": f"has more than {MAX_IMAGE_PIXELS:,} pixels (a wrong file or a decompression bomb)",
}


@dataclass(frozen=True)
class ImageFacts:
    """What the preflight learns of one file without decoding its pixels."""

    problem: str  # "" when usable, else a key of PROBLEMS
    width: int = 0
    height: int = 0
    mode: str = ""
    digest: str = ""  # hash of the file's bytes: the same image under two paths

    def describe(self) -> str:
        return f"{self.width}x{self.height} {self.mode}" if self.width else "unknown size"


def _open(data: bytes) -> Image.Image:
    """``Image.open`` with PIL's bomb *warning* silenced: :data:`MAX_IMAGE_PIXELS` is the stricter check here.

    The warnings filter is process-wide; a thread racing this may keep the "ignore" entry, which only drops a
    warning for images this module refuses anyway."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def inspect(data: bytes) -> ImageFacts:
    """Facts of one file: header size and mode, ``Image.verify`` (reads without decoding), content hash."""
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    try:
        with _open(data) as image:
            (width, height), mode = image.size, image.mode
            if width * height > MAX_IMAGE_PIXELS:
                return ImageFacts("huge", width, height, mode, digest)
            image.verify()
    except Image.DecompressionBombError:
        return ImageFacts("huge", digest=digest)
    except Exception:  # noqa: BLE001 - the bytes are untrusted: any decoder failure means a bad file
        return ImageFacts("undecodable", digest=digest)
    problem = "tiny" if min(width, height) < MIN_IMAGE_SIDE else ""
    return ImageFacts(problem, width, height, mode, digest)


def decode(data: bytes, name: str, mode: str = "RGB") -> np.ndarray:
    """``h w 3`` (``mode="RGB"``) or ``h w`` (``"L"``) float32 in [0, 1]; :class:`DataError` naming ``name`` when
    the file is not a usable image (it was not checked: ``data.on_corrupt=unchecked`` or ``data.verify_sample``)."""
    try:
        image = _open(data)
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:  # before a single pixel is decoded
            raise _unusable(name, "huge", f"{width}x{height}")
        image.load()
    except Image.DecompressionBombError:
        raise _unusable(name, "huge", "") from None
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - see inspect
        raise _unusable(name, "undecodable", f"{err.__class__.__name__}: {err}") from None
    if min(width, height) < MIN_IMAGE_SIDE:
        raise _unusable(name, "tiny", f"{width}x{height}")
    return to_unit(image, mode)


def to_unit(image: Image.Image, mode: str = "RGB") -> np.ndarray:
    """Pixels in [0, 1], high-bit-depth greyscale scaled by its depth (never clipped at 255)."""
    if image.mode not in (*SIXTEEN_BIT, "I", "F"):
        return np.asarray(image.convert(mode), dtype=np.float32) / 255.0  # 8-bit: as every dataset always read it
    grey = np.asarray(image, dtype=np.float64)
    grey = np.clip(grey / _full_scale(image.mode, grey), 0.0, 1.0).astype(np.float32)
    return np.repeat(grey[..., None], 3, axis=2) if mode == "RGB" else grey


def _full_scale(mode: str, grey: np.ndarray) -> float:
    """The value that means white: 65535 for 16-bit; for 32-bit ``I`` (how some readers hand over 16-bit PNGs)
    65535 unless a value exceeds it; for float ``F`` 1.0 unless a value exceeds it (then its maximum)."""
    top = float(grey.max(initial=0.0))
    if mode == "F":
        return max(1.0, top)
    return 65535.0 if mode in SIXTEEN_BIT or top <= 65535 else 2.0**31 - 1


def _unusable(name: str, problem: str, detail: str) -> DataError:
    return DataError("image", name, f"{SINGULAR[problem]}{f': {detail}' if detail else ''}",
                     "replace or remove the file; data.on_corrupt=fail (the default) finds every such file before "
                     "training, data.on_corrupt=skip trains without them")
