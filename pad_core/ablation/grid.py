"""The crossed layout of a sweep whose rows vary two config keys (MoAE-CR Table 5: experts x heads).

The sweep declares the two keys; each row's values of them (from its full config) are stored with the
declaration on the MLflow parent run, so the grid rebuilds from MLflow like the main table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pad_core.ablation.view import TableView


def _ordered(values: set[str]) -> list[str]:
    """Numeric axis values in numeric order (2, 4, 8, not 2, 4, 8 as strings by accident), others as text."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def axis_names(spec: TableView) -> tuple[str, str]:
    """Short names of the two keys (``moe.moae.num_experts`` -> ``num_experts``)."""
    first, second = spec.layout.axes
    return first.rsplit(".", 1)[-1], second.rsplit(".", 1)[-1]


def grid_stats(summary: pd.DataFrame, spec: TableView, metric: str, protocol: str) -> dict[str, pd.DataFrame]:
    """``mean``, ``std`` and ``n`` as (first key) x (second key) frames; NaN where no row sits."""
    at = spec.layout.at
    index, columns = _ordered({a for a, _ in at.values()}), _ordered({b for _, b in at.values()})
    part = summary[(summary["protocol"] == protocol) & (summary["metric"] == metric)].set_index("row")
    out = {k: pd.DataFrame(np.nan, index=index, columns=columns) for k in ("mean", "std", "n")}
    for row, (a, b) in at.items():
        if row in part.index:
            for k in out:
                out[k].loc[a, b] = part.loc[row, k]
    return out


def grid_cells(stats: dict[str, pd.DataFrame], expected: int, lower_is_better: bool, bold, cell_text) -> pd.DataFrame:
    """Text cells ``mean±std`` with the best mean of the whole grid wrapped by ``bold``."""
    mean, values = stats["mean"], stats["mean"].stack()  # stack drops the empty positions
    best = None if values.empty else values.idxmin() if lower_is_better else values.idxmax()
    text = pd.DataFrame("", index=mean.index, columns=mean.columns)
    for a in mean.index:
        for b in mean.columns:
            n = 0 if np.isnan(stats["n"].loc[a, b]) else int(stats["n"].loc[a, b])
            cell = cell_text(mean.loc[a, b], stats["std"].loc[a, b], n, expected)
            text.loc[a, b] = bold(cell) if (a, b) == best and n else cell
    return text
