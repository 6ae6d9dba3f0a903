"""Figures of a search's report (matplotlib, headless): history, parameter importance, Pareto front."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")  # no display on cluster heads or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pad_core.integrations.search_trials import CURVE_BEST  # noqa: E402


def _save(fig, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def history_plot(history: pd.DataFrame, names: list[str], title: str, path: str) -> str:
    """One panel per objective: each trial's value in start order (hollow: stopped early, counted at its best
    reported value) and the best so far as a step line."""
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 3.2 * len(names)), dpi=110, squeeze=False)
    early = (history["counted_as"] == CURVE_BEST).to_numpy()
    for ax, name in zip(axes[:, 0], names):
        x, y = history["trial"].to_numpy(), history[name].to_numpy(dtype=float)
        ax.scatter(x[~early], y[~early], label="final report", zorder=3)
        ax.scatter(x[early], y[early], facecolors="none", edgecolors="C1", label="stopped early (best reported)",
                   zorder=3)
        ax.step(x, history[f"best_{name}"].to_numpy(dtype=float), where="post", color="k", lw=1, label="best so far")
        ax.set(xlabel="trial (start order)", ylabel=name)
        ax.legend(fontsize=7, loc="best")
    axes[0, 0].set_title(title, fontsize=9)
    return _save(fig, path)


def importance_plot(frame: pd.DataFrame, notes: tuple[str, ...], title: str, path: str) -> str:
    """Horizontal bars of the mean fANOVA importance with ±std over evaluator seeds, one panel per objective; the
    notes under them (the whole figure is the note when nothing could be rated)."""
    objectives = list(dict.fromkeys(frame["objective"]))
    fig, axes = plt.subplots(max(1, len(objectives)), 1, dpi=110, squeeze=False,
                             figsize=(7, 1.2 + 0.35 * max(1, len(frame)) + 0.25 * len(notes)))
    for ax, objective in zip(axes[:, 0], objectives):
        part = frame[frame["objective"] == objective].sort_values("mean")
        ax.barh(part["param"], part["mean"], xerr=part["std"], capsize=3)
        ax.set(xlabel=f"fANOVA importance for {objective} (mean ± std over {int(part['seeds'].iloc[0])} seeds)",
               xlim=(0, 1))
    if not objectives:
        axes[0, 0].axis("off")
    wrapped = "\n".join(textwrap.fill(n, 110) for n in notes)
    fig.text(0.01, 0.01, wrapped, fontsize=6, va="bottom")
    axes[0, 0].set_title(title, fontsize=9)
    fig.tight_layout(rect=(0, min(0.6, 0.05 + 0.04 * wrapped.count("\n") + 0.04), 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path


def pareto_plot(history: pd.DataFrame, front: pd.DataFrame, names: list[str], title: str, path: str) -> str:
    """Every trial in the first two objectives, the Pareto front (front 0 in all objectives) highlighted."""
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    a, b = names[0], names[1]
    ax.scatter(history[a], history[b], color="0.6", label="trials")
    ordered = front.sort_values(a)
    ax.plot(ordered[a], ordered[b], "o-", color="C3", label="Pareto front")
    for _, row in ordered.iterrows():
        ax.annotate(str(int(row["trial"])), (row[a], row[b]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel=a, ylabel=b)
    extra = f" (front over {', '.join(names)})" if len(names) > 2 else ""
    ax.set_title(title + extra, fontsize=9)
    ax.legend(fontsize=7)
    if np.isfinite(history[a].to_numpy(dtype=float)).sum() == 0:
        ax.text(0.5, 0.5, "no trial reported the objectives", transform=ax.transAxes, ha="center")
    return _save(fig, path)
