"""Figures logged on a sweep's parent run (matplotlib, headless): per-row bars with seed error bars."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on cluster heads or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pad_core.ablation.table import TableSpec  # noqa: E402


def metric_bars(summary: pd.DataFrame, spec: TableSpec, metric: str, path: str) -> str:
    """One group of bars per protocol, one bar per row: mean with a ±std error bar, in percent."""
    rows = [r for r, _ in spec.rows]
    labels = dict(spec.rows)
    data = summary[summary["metric"] == metric]
    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(spec.protocols) * len(rows) ** 0.5 + 3), 4), dpi=110)
    x = np.arange(len(spec.protocols))
    for i, row in enumerate(rows):
        part = data[data["row"] == row].set_index("protocol").reindex(spec.protocols)
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, part["mean"], width, yerr=part["std"], capsize=3,
               label=labels[row])
    ax.set_xticks(x, spec.protocols)
    ax.set_ylabel(f"{metric.upper()} (%)")
    ax.set_title(f"{spec.title}: {metric.upper()}, mean ± std over seeds")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
