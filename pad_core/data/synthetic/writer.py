"""Writing a synthetic benchmark: one PNG per planned row and a manifest in the standard columns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pad_core.data.manifest import REQUIRED_COLUMNS


def write_benchmark(out_dir: Path, rows: list[dict], render: Callable[[dict], np.ndarray]) -> Path:
    """Render every row to ``images/<subset>/<split>/<species>/<i>.png`` and write ``manifest.csv``."""
    records = []
    for i, row in enumerate(rows):
        rel = f"images/{row['subset']}/{row['split']}/{row['attack_type']}/{i:06d}.png"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(render(row)).save(out_dir / rel)  # uint8 h w -> greyscale, h w 3 -> RGB
        records.append({"path": rel, **{k: v for k, v in row.items() if k != "seed"}})
    manifest = out_dir / "manifest.csv"
    pd.DataFrame(records)[list(REQUIRED_COLUMNS)].to_csv(manifest, index=False)
    return manifest
