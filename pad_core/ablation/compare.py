"""Δ against the baseline row: a paired bootstrap on the same test samples (:mod:`pad_core.ablation.paired`) and,
where it has cells enough to mean something, Wilcoxon's signed-rank test over (protocol × seed) cells; each
Holm-corrected across rows.

Cells pair a row's run with the baseline's run of the same protocol and seed (same data split, same seed for
init and sampling), so both tests see only what the row changed. Wilcoxon's exact two-sided p over n cells is
at least 2/2^n — 0.125 at 4 cells, 0.0625 at 5, 0.031 at 6 — and Holm multiplies the smallest p of m compared
rows by m, so with fewer than :func:`min_wilcoxon_cells` (6 for one row, 7 for 2-3, 8 for 4-6) no row could
reach 0.05: the table prints "n too small" instead of a p-value that cannot be small.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pad_core.ablation.paired import Paired

ALPHA = 0.05
TOO_FEW = "n too small"
COLUMNS = ["row", "delta", "pairs", "p", "wilcoxon_note", "lo", "hi", "p_boot", "boot_note"]


def paired_cells(long: pd.DataFrame, row: str, baseline: str, metric: str) -> pd.DataFrame:
    """Columns ``row``/``base``: the two values of every (protocol, seed) cell both rows have."""
    part = long[long["metric"] == metric].pivot_table(index=["protocol", "seed"], columns="row", values="value")
    if row not in part or baseline not in part:
        return pd.DataFrame(columns=["row", "base"])
    return part[[row, baseline]].dropna().set_axis(["row", "base"], axis=1)


def min_wilcoxon_cells(rows: int) -> int:
    """The fewest cells whose smallest Holm-adjusted p over ``rows`` compared rows, rows·2/2^n, is below 0.05."""
    n = 1
    while max(rows, 1) * 2.0 / 2**n >= ALPHA:
        n += 1
    return n


def wilcoxon_p(diffs: np.ndarray, rows: int = 1) -> float:
    """Two-sided signed-rank p; 1.0 when every difference is zero; NaN below :func:`min_wilcoxon_cells` cells (its
    p, Holm-adjusted over ``rows`` rows, could not go below 0.05)."""
    if len(diffs) < min_wilcoxon_cells(rows):
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


def compare_rows(long: pd.DataFrame, rows: list[str], baseline: str, metric: str,
                 paired: dict[str, Paired] | None = None) -> pd.DataFrame:
    """Per non-baseline row: Δ mean (row − baseline, percentage points) over its paired cells; the Wilcoxon p
    (raw, Holm) or why there is none; the paired bootstrap's Δ interval and p (raw, Holm) or why there is none."""
    records, others = [], [r for r in rows if r != baseline]
    diffs_of = {}
    for row in others:
        cells = paired_cells(long, row, baseline, metric)
        diffs_of[row] = (cells["row"] - cells["base"]).to_numpy(dtype=float)
    family = sum(len(d) > 0 for d in diffs_of.values())  # the rows Holm adjusts over
    needed = min_wilcoxon_cells(family)
    for row, diffs in diffs_of.items():
        boot = (paired or {}).get(row, Paired(note="no bootstrap: no scores"))
        short = f"{TOO_FEW} (n={len(diffs)} < {needed}{f' with {family} rows' if family > 1 else ''})"
        records.append({"row": row, "delta": float(diffs.mean()) if len(diffs) else float("nan"),
                        "pairs": len(diffs), "p": wilcoxon_p(diffs, family),
                        "wilcoxon_note": short if 0 < len(diffs) < needed else "",
                        "lo": boot.lo, "hi": boot.hi, "p_boot": boot.p, "boot_note": boot.note})
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    frame["p_holm"] = frame["row"].map(holm(dict(zip(frame["row"], frame["p"]))))
    frame["p_boot_holm"] = frame["row"].map(holm(dict(zip(frame["row"], frame["p_boot"]))))
    return frame.set_index("row")
