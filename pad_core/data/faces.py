"""Face crops for importers: the dataset's own boxes (``--faces shipped``) or a registered detector (``--faces haar``).

A row may carry ``face_box`` = "x0,y0,x1,y1" (pixels of its RGB image) from the dataset's annotation files.
The crop is a square around the face box, widened by ``face_margin`` of the box side on every side (black
where it leaves the image), resized to ``crop_size``. Aligned modalities (``path_depth``, ``path_ir``, any
``path_*``) are cropped with the RGB image's box, so they must have its size. An image where no face is found
is refused with its path, never kept uncropped. Crops are cached under
``<manifest folder>/padsweep_import/crops/<detector>-<hash of its settings>/``: a rerun with the same settings
reuses them (and the boxes, from ``index.json``, whose entry per RGB image records the shipped box and the path, size
and modification time of every file column: a change to any of them crops again), other settings write new ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pad_core.data.importers.base import OUTPUT_DIR, ImportOptions, ImportProblems, relative
from pad_core.errors import DataError
from pad_core.registry import Registry

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive
STEPS = ("none", "shipped")  # --faces values that are not detectors
EXAMPLES = 5
PRE_CROP_FIX = ("crop the faces yourself and import the crops with --faces none, or use --faces haar (OpenCV's "
                "Haar cascade, inside the opencv wheel)")


@dataclass(frozen=True)
class FaceDetector:
    name: str
    params: dict = field(default_factory=dict)  # everything that changes its boxes (part of the cache key)
    # 8-bit greyscale image -> face boxes; None for the shipped boxes, which come with the rows
    detect: Callable[[np.ndarray, dict], list[Box]] | None = None

    def key(self, options: ImportOptions) -> str:
        settings = {"params": self.params, "margin": options.face_margin, "crop_size": options.crop_size,
                    "opencv": cv2.__version__}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.name}-{digest}"


FACE_DETECTORS: Registry[FaceDetector] = Registry("face detector")


@functools.cache
def _cascade(file: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, file))
    if cascade.empty():
        raise DataError("--faces", "haar", f"OpenCV could not load {file} from {cv2.data.haarcascades}",
                        "reinstall opencv-python-headless (the cascades ship inside its wheel)")
    return cascade


def haar_faces(grey: np.ndarray, params: dict) -> list[Box]:
    found = _cascade(params["cascade"]).detectMultiScale(
        grey, scaleFactor=params["scale_factor"], minNeighbors=params["min_neighbors"],
        minSize=(params["min_size"], params["min_size"]))
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in found]


FACE_DETECTORS.register("haar")(FaceDetector("haar", {"cascade": "haarcascade_frontalface_default.xml",
                                                      "scale_factor": 1.1, "min_neighbors": 5, "min_size": 24},
                                             haar_faces))
# The shipped boxes go through the same cropping; their "detector" has no parameters.
SHIPPED = FaceDetector("shipped")


def crop_faces(rows: list[dict], options: ImportOptions, folder: Path, problems: ImportProblems) -> list[dict]:
    """Rows with every file column replaced by its face crop (``face_box`` and ``face_source`` added).

    Nothing happens with ``--faces none``, or when the scan already found problems (the import is refused on
    those first). Faces not found go to ``problems.no_face`` (refused with the pre-cropping fix)."""
    if options.faces == "none" or problems.kinds(options.skip_unknown):
        return rows
    detector = face_step(options.faces)
    cache = folder / OUTPUT_DIR / "crops" / detector.key(options)
    index = read_index(cache)
    out, failed = [], []
    for row in rows:
        cropped = crop_row(row, detector, options, folder, cache, index)
        if isinstance(cropped, str):
            failed.append(cropped)
        else:
            out.append(cropped)
    write_index(cache, index)
    problems.no_face.extend(failed)  # refused with the others by ImportProblems.raise_if_any, with PRE_CROP_FIX
    return out


def face_step(name: str) -> FaceDetector:
    if name == "shipped":
        return SHIPPED
    if name not in FACE_DETECTORS:
        raise DataError("--faces", name, "not a face step", f"use one of {[*STEPS, *FACE_DETECTORS.list()]}")
    return FACE_DETECTORS.get(name)


def crop_row(row: dict, detector: FaceDetector, options: ImportOptions, folder: Path, cache: Path,
             index: dict) -> dict | str:
    """The row with its crops, or "<path>: why" when there is no face to crop."""
    source = Path(row["path"])
    rel = relative(source, folder)
    columns = [c for c in row if (c == "path" or c.startswith("path_")) and row[c]]
    targets = {c: cache / f"{relative(row[c], folder)}.png" for c in columns}
    stamp = crop_inputs(row, columns, detector)
    known = index.get(rel)
    if known and known.get("inputs") == stamp and all(t.is_file() for t in targets.values()):
        return with_crops(row, targets, known["box"], rel)
    image = read_image(source)
    if image is None:
        return f"{source}: not a readable image"
    box = face_box(row, image, detector)
    if isinstance(box, str):
        return f"{source}: {box}"
    for column, target in targets.items():
        other = image if column == "path" else read_image(Path(row[column]))
        if other is None or other.shape[:2] != image.shape[:2]:
            return (f"{source}: its {column} {row[column]} is unreadable or not the RGB image's size "
                    f"{image.shape[1]}x{image.shape[0]}, so the RGB face box cannot be applied to it")
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), crop(other, box, options))
    index[rel] = {"box": list(box), "inputs": stamp}
    return with_crops(row, targets, box, rel)


def face_box(row: dict, image: np.ndarray, detector: FaceDetector) -> Box | str:
    """The shipped box (``face_box``) or the detector's largest face; a string says why there is none."""
    if detector is SHIPPED:
        return parse_box(row.get("face_box", ""), image)
    faces = detector.detect(to_grey(image), detector.params)
    if not faces:
        return f"the {detector.name} detector found no face"
    return max(faces, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def parse_box(text: str, image: np.ndarray) -> Box | str:
    if not text:
        return "no shipped face box on its row (face_box is empty: its importer read none for it)"
    try:
        x0, y0, x1, y1 = (int(round(float(v))) for v in str(text).split(","))
    except ValueError:
        return f"face_box {text!r} is not 'x0,y0,x1,y1'"
    h, w = image.shape[:2]
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        return f"face_box {text!r} is empty or outside the {w}x{h} image"
    return x0, y0, x1, y1


def crop(image: np.ndarray, box: Box, options: ImportOptions) -> np.ndarray:
    """Square crop around ``box`` widened by the margin on every side; black outside the image; resized."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    half = side * (0.5 + options.face_margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(round(cx - half)), int(round(cy - half))
    size = max(1, int(round(2 * half)))
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + size - w, top + size - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    out = image[top + pad: top + pad + size, left + pad: left + pad + size]
    if options.crop_size and options.crop_size != size:
        shrink = options.crop_size < size
        out = cv2.resize(out, (options.crop_size, options.crop_size),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out


def with_crops(row: dict, targets: dict[str, Path], box, source_rel: str) -> dict:
    out = dict(row)
    out.update({column: str(target) for column, target in targets.items()})
    out["face_box"] = ",".join(str(int(v)) for v in box)
    out["face_source"] = source_rel
    return out


def read_image(path: Path) -> np.ndarray | None:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def to_grey(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    return image


def crop_inputs(row: dict, columns: list[str], detector: FaceDetector) -> dict:
    """Everything a row's crops are made from: each file column's path, size and modification time, and the shipped
    box. A cache entry is reused only when all of them are unchanged (a corrected face_box, or a depth or IR file
    replaced under the same RGB image, used to return the old crop)."""
    files = {c: [str(row[c]), *stat_of(Path(row[c]))] for c in columns}
    return {"files": files, "face_box": str(row.get("face_box", "")) if detector is SHIPPED else ""}


def stat_of(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def read_index(cache: Path) -> dict:
    try:
        return json.loads((cache / "index.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_index(cache: Path, index: dict) -> None:
    if index:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "index.json").write_text(json.dumps(index, sort_keys=True))
