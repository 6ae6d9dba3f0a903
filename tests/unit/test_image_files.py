"""Image files as every reader sees them (pad_core.data.images): 16-bit greyscale scaled by its bit depth, oversized
and placeholder files refused by name, 8-bit files read exactly as before."""

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fsspec.implementations.local import LocalFileSystem
from PIL import Image

from pad_core.config import from_flat, scale_overrides
from pad_core.data import ManifestImages, prepare, resolve_manifest_uri
from pad_core.data.files import FileSource
from pad_core.data.flash import _read
from pad_core.data.images import MAX_IMAGE_PIXELS, decode, inspect
from pad_core.data.multimodal import MultiModalImages
from pad_core.errors import DataError
from tests.unit.test_manifest_checks import png_header

MEAN, STD = (0.0,) * 3, (1.0,) * 3  # identity normalisation: the dataset's tensor is the decoded image


def png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt)
    return out.getvalue()


def gradient16(height: int = 32, width: int = 64) -> np.ndarray:
    """A left-to-right ramp over the whole 16-bit range, as a NIR or depth camera writes it."""
    return np.linspace(0, 65535, width).round().astype(np.uint16)[None].repeat(height, 0)


def assert_ramp(row: np.ndarray) -> None:
    """0 at the left, 1 at the right, rising: a gradient, not the all-white image clipping at 255 gave."""
    assert row[0] == 0 and row[-1] == pytest.approx(1.0) and (np.diff(row) > 0).all()
    np.testing.assert_allclose(row, np.linspace(0, 1, len(row)), atol=1e-4)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_16_bit_greyscale_image_decodes_to_a_gradient(fmt):
    data = png(gradient16(), fmt)
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    rgb, grey = decode(data, "nir.png"), decode(data, "nir.png", "L")
    assert rgb.shape == (32, 64, 3) and grey.shape == (32, 64) and rgb.dtype == np.float32
    assert_ramp(rgb[5, :, 0])
    assert_ramp(grey[5])
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_8_bit_images_decode_exactly_as_before():
    rng = np.random.default_rng(0)
    for array in (rng.integers(0, 256, (20, 24, 3), dtype=np.uint8), rng.integers(0, 256, (20, 24), dtype=np.uint8)):
        data = png(array)
        before = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255.0
        assert np.array_equal(decode(data, "x.png"), before)


def write(folder, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return name


def test_every_dataset_reads_16_bit_files_as_gradients(tmp_path):
    """The CLIP-family dataset, BIG-MoE's IR/depth modalities and ATR-FAS's depth maps share one decoder."""
    name = write(tmp_path, "nir.png", png(gradient16(64, 64)))
    frame = pd.DataFrame({"path": [name], "path_ir": [name], "path_depth": [name], "label": [1]})
    fs = LocalFileSystem()
    image = ManifestImages(frame, fs, str(tmp_path), image_size=64, mean=MEAN, std=STD, augment=False)[0][0]
    assert_ramp(image[0, 10].numpy())
    modalities = MultiModalImages(frame, fs, str(tmp_path), image_size=64, mean=MEAN, std=STD, augment=False)[0][0]
    for m in range(3):
        assert_ramp(modalities["modalities"][m, 0, 10].numpy())
    assert_ramp(_read(FileSource.of(fs), str(tmp_path / name), "L")[10])


def test_a_placeholder_or_a_bomb_met_by_a_dataset_is_a_data_error_naming_it(tmp_path):
    """With data.on_corrupt=unchecked nothing checked the files first: the reader names the file, no traceback."""
    names = [write(tmp_path, "dot.png", png(np.zeros((1, 1, 3), np.uint8))),
             write(tmp_path, "bomb.png", png_header(20000, 20000)),
             write(tmp_path, "big.png", png_header(8000, 7000))]
    dataset = ManifestImages(pd.DataFrame({"path": names, "label": [1, 0, 1]}), LocalFileSystem(), str(tmp_path),
                             image_size=32, mean=MEAN, std=STD, augment=False)
    messages = []
    for i, name in enumerate(names):
        with pytest.raises(DataError, match=name) as info:
            dataset[i]
        messages.append(str(info.value))
    assert "smaller than 16 px on a side" in messages[0] and ": 1x1" in messages[0]
    assert f"more than {MAX_IMAGE_PIXELS:,} pixels" in messages[1] and ": 8000x7000" in messages[2]
    assert all("Fix:" in m for m in messages)


def test_the_preflight_reads_size_mode_and_content_without_decoding():
    facts = inspect(png(gradient16()))
    assert (facts.problem, facts.width, facts.height, facts.mode) == ("", 64, 32, "I;16") and len(facts.digest) == 32
    assert inspect(png_header(20000, 20000)).problem == "huge"  # PIL's DecompressionBombError, caught
    assert inspect(png_header(8000, 7000)).problem == "huge"  # 56 MP: over the cap, under PIL's limit
    assert inspect(png(np.zeros((15, 200), np.uint8))).problem == "tiny"
    assert inspect(png(np.zeros((16, 16), np.uint8))).problem == ""
    assert inspect(png(np.zeros((16, 16), np.uint8))[:40]).problem == "undecodable"


def test_skip_policy_leaves_placeholders_out_and_lists_them(tmp_path):
    manifest = Path(resolve_manifest_uri(from_flat(scale_overrides("smoke")).data))
    shutil.copytree(manifest.parent / "images", tmp_path / "images")
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    frame.loc[0, "path"] = write(tmp_path, "dot.png", png(np.zeros((1, 1, 3), np.uint8)))
    frame.to_csv(tmp_path / "m.csv", index=False)
    flat = {**scale_overrides("smoke"), "data.manifest": str(tmp_path / "m.csv"), "data.on_corrupt": "skip"}
    data = prepare(from_flat(flat).data)
    assert data.skipped == ["dot.png"] and "dot.png" not in set(pd.concat([data.train, data.dev, data.test])["path"])
    with pytest.raises(DataError, match=r"1 image files are smaller than 16 px on a side.*dot.png \(1x1 RGB\)"):
        prepare(from_flat({**flat, "data.on_corrupt": "fail"}).data)
