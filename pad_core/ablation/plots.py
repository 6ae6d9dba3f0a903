"""Figures logged on a sweep's parent run (matplotlib, headless): per-row bars with seed error bars."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on cluster heads or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pad_core.ablation.view import TableView  # noqa: E402
from pad_core.metrics.pad import auc, operating_points  # noqa: E402


def metric_bars(summary: pd.DataFrame, spec: TableView, metric: str, path: str) -> str:
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


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def metric_trend(summary: pd.DataFrame, spec: TableView, metric: str, path: str) -> str:
    """The ablation trend (MMoE Fig. 6 style): the metric along the rows in table order, one line with ±std
    error bars per protocol column (group columns included)."""
    labels = [label for _, label in spec.rows]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels) + 2), 4), dpi=110)
    x = np.arange(len(labels))
    for col in spec.columns():
        part = summary[(summary["metric"] == metric) & (summary["protocol"] == col)].set_index("row")
        part = part.reindex([r for r, _ in spec.rows])
        ax.errorbar(x, part["mean"], yerr=part["std"], marker="o", capsize=3, label=col)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(f"{metric.upper()} (%)")
    ax.set_title(f"{spec.title}: {metric.upper()} per ablation")
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def grid_heatmap(stats: dict[str, pd.DataFrame], axes: tuple[str, str], title: str, path: str) -> str:
    """A crossed grid's means (MoAE-CR Table 5) as a heatmap, each cell annotated mean±std."""
    mean, std = stats["mean"], stats["std"]
    fig, ax = plt.subplots(figsize=(1.3 * len(mean.columns) + 2.5, 1.0 * len(mean.index) + 1.8), dpi=110)
    image = ax.imshow(mean.to_numpy(dtype=float), cmap="viridis_r", aspect="auto")
    for i, a in enumerate(mean.index):
        for j, b in enumerate(mean.columns):
            if not np.isnan(mean.loc[a, b]):
                ax.text(j, i, f"{mean.loc[a, b]:.2f}\n±{std.loc[a, b]:.2f}", ha="center", va="center",
                        fontsize=7, color="white")
    ax.set_xticks(range(len(mean.columns)), mean.columns)
    ax.set_yticks(range(len(mean.index)), mean.index)
    ax.set_xlabel(axes[1])
    ax.set_ylabel(axes[0])
    ax.set_title(title, fontsize=8)
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


def roc_det(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, path: str) -> str:
    """ROC (1 - BPCER against APCER) and DET (BPCER against APCER on normal-deviate axes) of score sets.

    ``curves`` maps a legend label (``"P1 s0"``) to (scores, labels) in ``pad_core.metrics`` convention:
    label 1 = bona fide, score = P(live); the operating points are the ones the metrics use.
    """
    from scipy.stats import norm

    fig, (roc_ax, det_ax) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    for name, (scores, labels) in curves.items():
        points = operating_points(scores, labels)
        roc_ax.plot(points.apcer, 1 - points.bpcer, lw=1, label=f"{name} (AUC {100 * auc(scores, labels):.1f})")
        inner = (points.apcer > 0) & (points.apcer < 1) & (points.bpcer > 0) & (points.bpcer < 1)  # finite deviates
        det_ax.plot(norm.ppf(points.apcer[inner]), norm.ppf(points.bpcer[inner]), lw=1, label=name)
    roc_ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    roc_ax.set(xlabel="APCER (attacks accepted)", ylabel="1 - BPCER (bona fide accepted)", title="ROC")
    ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8])
    det_ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    det_ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    det_ax.set(xlabel="APCER (%)", ylabel="BPCER (%)", title="DET")
    roc_ax.legend(fontsize=6, loc="lower right")
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)
