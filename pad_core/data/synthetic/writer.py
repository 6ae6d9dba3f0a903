"""Writing a synthetic benchmark: one PNG per planned row and a manifest in the standard columns."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pad_core.data.manifest import REQUIRED_COLUMNS


def write_benchmark(out_dir: Path, rows: list[dict], render: Callable[[dict], np.ndarray | dict]) -> Path:
    """Render every row to ``images/<subset>/<split>/<species>/<i>.png`` and write ``manifest.csv``.

    ``render`` returns one image, or ``{file column: image or None}`` for rows with several files (modalities,
    depth maps): each lands in ``<i>_<column>.png``; None leaves the column empty (a missing file). Row keys
    other than ``seed`` become manifest columns.
    """
    records, started, step = [], time.monotonic(), max(1, len(rows) // 10)
    print(f"[padsweep] generating {len(rows)} synthetic images under {out_dir}", flush=True)
    for i, row in enumerate(rows):
        if i and i % step == 0:
            elapsed = time.monotonic() - started
            print(f"[padsweep]   {i}/{len(rows)} images ({100 * i // len(rows)}%), {elapsed:.0f}s elapsed, "
                  f"~{elapsed / i * (len(rows) - i):.0f}s left", flush=True)
        stem = f"images/{row['subset']}/{row['split']}/{row['attack_type']}/{i:06d}"
        images = render(row)
        files = {col: _save(out_dir, f"{stem}_{col}.png", img) for col, img in images.items()} \
            if isinstance(images, dict) else {"path": _save(out_dir, f"{stem}.png", images)}
        records.append({**files, **{k: v for k, v in row.items() if k != "seed"}})
    manifest = out_dir / "manifest.csv"
    frame = pd.DataFrame(records)
    extra = [c for c in frame.columns if c not in REQUIRED_COLUMNS]
    frame[list(REQUIRED_COLUMNS) + extra].to_csv(manifest, index=False)
    return manifest


def _save(out_dir: Path, rel: str, image: np.ndarray | None) -> str:
    if image is None:
        return ""
    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out_dir / rel)  # uint8 h w -> greyscale, h w 3 -> RGB
    return rel
