"""Capture-device model applied to bona fide and attack images alike, so the device never predicts the label.

Each device has optics blur, sensor resolution, tone curve, vignetting, noise, optional interlacing
and JPEG compression. Attack cues that live in fine detail (print halftone) are partly washed out by
blurry or low-resolution devices, which is what makes cross-device protocols hard.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class Device:
    resolution: float  # sensor sampling relative to the render size (1.0 = full)
    blur: float  # optics blur sigma, pixels
    noise: float  # sensor noise sigma (image in [0, 1])
    gain: float  # exposure gain
    gamma: float  # tone curve exponent
    vignette: float  # corner darkening strength
    jpeg: int  # JPEG quality; 0 = stored losslessly
    interlace: float  # odd-row brightness offset (interlaced sensors)
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel gains (colour images)


DEVICES: dict[str, Device] = {
    "H100": Device(1.0, 0.5, 0.015, 1.00, 1.00, 0.10, 0, 0.00),
    "DALSA": Device(1.0, 0.3, 0.030, 0.90, 0.85, 0.05, 0, 0.00),
    "LG2200": Device(0.8, 0.7, 0.020, 1.05, 1.10, 0.15, 70, 0.04),
    "AI1000": Device(0.6, 0.6, 0.012, 1.10, 0.95, 0.08, 85, 0.00),
    "LG4000": Device(1.0, 0.4, 0.010, 1.15, 1.20, 0.12, 90, 0.00),
    "AD100": Device(0.7, 0.9, 0.035, 0.95, 1.05, 0.25, 80, 0.00),
}


# Colour capture domains (face benchmarks): a phone, a webcam, a DSLR, an outdoor camera.
FACE_DEVICES: dict[str, Device] = {
    "phone": Device(1.0, 0.5, 0.015, 1.00, 1.00, 0.10, 88, 0.0, (1.00, 1.00, 0.97)),
    "webcam": Device(0.6, 0.7, 0.030, 0.95, 1.05, 0.20, 70, 0.0, (1.04, 1.00, 0.92)),
    "dslr": Device(1.0, 0.3, 0.008, 1.00, 0.95, 0.05, 0, 0.0, (0.98, 1.00, 1.03)),
    "outdoor": Device(0.8, 0.5, 0.012, 1.15, 0.85, 0.08, 85, 0.0, (1.05, 1.02, 0.95)),
}


def _resample(img: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1.0:
        return img
    size = img.shape[0]
    small = max(8, int(round(size * factor)))
    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    pil = pil.resize((small, small), Image.BILINEAR).resize((size, size), Image.BILINEAR)
    return np.asarray(pil, dtype=np.float32) / 255.0


def _vignette(size: int, strength: float, ndim: int) -> np.ndarray:
    yy, xx = np.mgrid[-1:1:complex(size), -1:1:complex(size)]
    v = 1.0 - strength * (xx**2 + yy**2) / 2.0
    return v[..., None] if ndim == 3 else v


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB" if img.ndim == 3 else "L"))


def capture(img: np.ndarray, device: Device, rng: np.random.Generator) -> np.ndarray:
    """Scene radiance in [0, 1] (h w, or h w 3) -> uint8 image as this device records it."""
    out = gaussian_filter(img, (device.blur, device.blur, 0)[: img.ndim])
    out = _resample(out, device.resolution)
    exposure = device.gain * rng.uniform(0.9, 1.1) * (np.array(device.white_balance) if img.ndim == 3 else 1.0)
    out = np.clip(out * exposure, 0, 1) ** device.gamma * _vignette(img.shape[0], device.vignette, img.ndim)
    out = out + rng.normal(0, device.noise, out.shape)
    if device.interlace:
        out[1::2] += device.interlace
    out8 = (np.clip(out, 0, 1) * 255).astype(np.uint8)
    return _jpeg(out8, device.jpeg) if device.jpeg else out8
