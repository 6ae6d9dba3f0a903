"""Δ against the baseline row with a paired test over (sub-protocol × seed) cells, Holm-corrected across rows.

Cells pair a row's run with the baseline's run of the same protocol and seed (same data split, same seed for
init and sampling), so the test sees only what the row changed. Wilcoxon's signed-rank test (scipy, exact for
small samples) is used; a row without at least two paired cells gets no p-value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

MIN_PAIRS = 2


def paired_cells(long: pd.DataFrame, row: str, baseline: str, metric: str) -> pd.DataFrame:
    """Columns ``row``/``base``: the two values of every (protocol, seed) cell both rows have."""
    part = long[long["metric"] == metric].pivot_table(index=["protocol", "seed"], columns="row", values="value")
    if row not in part or baseline not in part:
        return pd.DataFrame(columns=["row", "base"])
    return part[[row, baseline]].dropna().set_axis(["row", "base"], axis=1)


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided signed-rank p; 1.0 when every difference is zero; NaN with fewer than MIN_PAIRS cells."""
    if len(diffs) < MIN_PAIRS:
        return float("nan")
    if not np.any(diffs):
        return 1.0
    return float(stats.wilcoxon(diffs, zero_method="zsplit").pvalue)


def holm(pvalues: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment (family-wise error) over the rows that have a p-value."""
    valid = sorted((p, k) for k, p in pvalues.items() if not np.isnan(p))
    adjusted, running = {k: float("nan") for k in pvalues}, 0.0
    for i, (p, k) in enumerate(valid):
        running = max(running, min(1.0, (len(valid) - i) * p))
        adjusted[k] = running
    return adjusted


def compare_rows(long: pd.DataFrame, rows: list[str], baseline: str, metric: str) -> pd.DataFrame:
    """Per non-baseline row: Δ mean (row − baseline, percentage points), pairs, raw and Holm-adjusted p."""
    records, raw = [], {}
    for row in (r for r in rows if r != baseline):
        cells = paired_cells(long, row, baseline, metric)
        diffs = (cells["row"] - cells["base"]).to_numpy(dtype=float)
        raw[row] = wilcoxon_p(diffs)
        records.append({"row": row, "delta": float(diffs.mean()) if len(diffs) else float("nan"),
                        "pairs": len(diffs), "p": raw[row]})
    frame = pd.DataFrame.from_records(records, columns=["row", "delta", "pairs", "p"])
    frame["p_holm"] = frame["row"].map(holm(raw))
    return frame.set_index("row")
