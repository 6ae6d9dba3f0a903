"""A summarised ablation as the paper would print it: Markdown, LaTeX (booktabs) and CSV.

Cells are the mean over seeds in percent with either its bootstrap interval ``[lo, hi]`` (:mod:`uncertainty`:
test-set sampling error, resampled by subject) or ±std over seeds (``interval`` "std", and cells whose runs
have no scores.csv, marked †); cells short of the declared seeds say ``(n=1/3)``; arrows give the direction
against the baseline row (MMoE Table 6 style); the best mean of each column is bold; the last columns compare the
first metric with the baseline row: Δ, its paired-bootstrap interval and Holm-adjusted p, and the Wilcoxon
signed-rank p over (protocol × seed) cells (Holm) or "n too small". The CSV has each cell's std, lo and hi too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pad_core.ablation.compare import compare_rows
from pad_core.ablation.grid import axis_names, grid_cells, grid_stats
from pad_core.ablation.table_stats import TableStats
from pad_core.ablation.view import TableView

FALLBACK = "†"  # a cell shown as ±std in a table of intervals: one of its runs has no scores.csv

LOWER_IS_BETTER = frozenset({"acer", "eer", "apcer", "bpcer", "hter"})


@dataclass(frozen=True)
class Rendered:
    markdown: str
    latex: str
    frame: pd.DataFrame  # plain strings, for CSV
    grids: dict[str, pd.DataFrame] = field(default_factory=dict)  # protocol -> crossed grid (plain strings)
    stats: TableStats | None = None  # intervals, paired comparisons, resolvable difference (None: no scores read)


def cell_text(mean: float, std: float, n: int, expected: int, lo: float = np.nan, hi: float = np.nan,
              form: str = "std") -> str:
    """``mean±std`` or, in a table of intervals (``form`` "ci"), ``mean [lo, hi]``; a cell without an interval
    there is ``mean±std†`` (never an unmarked mix of the two)."""
    if n == 0 or np.isnan(mean):
        return "—"
    flag = "" if n >= expected else f" (n={n}/{expected})"
    if form == "ci":
        return f"{mean:.2f}±{std:.2f}{FALLBACK}{flag}" if np.isnan(lo) else f"{mean:.2f} [{lo:.2f}, {hi:.2f}]{flag}"
    return f"{mean:.2f}±{std:.2f}{flag}"


def with_intervals(summary: pd.DataFrame, stats: TableStats | None) -> pd.DataFrame:
    """The summary with each cell's ``lo``/``hi`` (NaN without an interval)."""
    if stats is None or stats.intervals.empty:
        return summary.assign(lo=np.nan, hi=np.nan)
    bounds = stats.intervals[["row", "protocol", "metric", "lo", "hi"]].astype({"lo": float, "hi": float})
    return summary.merge(bounds, on=["row", "protocol", "metric"], how="left")


def _arrow(mean: float, base: float) -> str:
    if np.isnan(mean) or np.isnan(base) or round(mean, 2) == round(base, 2):
        return ""
    return "↑" if mean > base else "↓"


def _best(values: pd.Series, metric: str) -> str | None:
    values = values.dropna()
    if values.empty:
        return None
    return str(values.idxmin() if metric in LOWER_IS_BETTER else values.idxmax())


def cells(summary: pd.DataFrame, spec: TableView, bold, failed=frozenset(), form: str = "std",
          bounds: bool = False) -> pd.DataFrame:
    """Rows x "<protocol> <METRIC>" text cells; ``bold`` wraps the best cell of a column (identity for CSV);
    (row, protocol) pairs in ``failed`` had runs that failed (NaN loss, time budget): marked ✗. ``summary`` has
    ``lo``/``hi`` (:func:`with_intervals`); ``bounds`` adds them and the seed spread as "<column> std|lo|hi" (the
    CSV: every cell's seed std whatever the displayed form)."""
    out = pd.DataFrame(index=[r for r, _ in spec.rows])
    for col in spec.columns():
        for metric in spec.metrics:
            part = summary[(summary["protocol"] == col) & (summary["metric"] == metric)].set_index("row")
            base, best = part["mean"].get(spec.baseline_row, np.nan), _best(part["mean"], metric)
            name = f"{col} {metric.upper()}"
            out[name] = [_decorate(part.loc[r], spec, r, base, bold if r == best else str, form)
                         + " ✗" * ((r, col) in failed) for r in out.index]
            if bounds:
                for side in ("std", "lo", "hi"):
                    out[f"{name} {side}"] = [_number(part.loc[r, side]) for r in out.index]
    return out


def _number(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.2f}"


def _decorate(line: pd.Series, spec: TableView, row: str, base: float, wrap, form: str) -> str:
    text = wrap(cell_text(line["mean"], line["std"], int(line["n"]), len(spec.seeds), line["lo"], line["hi"], form))
    return text if row == spec.baseline_row else text + _arrow(line["mean"], base)


def _p(value: float) -> str:
    return "" if np.isnan(value) else "<0.001" if value < 0.001 else f"{value:.3f}"


def with_comparison(table: pd.DataFrame, comparison: pd.DataFrame, metric: str, level: float = 0.95) -> pd.DataFrame:
    """Δ (row − baseline), its paired-bootstrap interval (or why there is none) and Holm p, the Wilcoxon Holm p
    (or "n too small")."""
    delta = comparison["delta"].map(lambda d: "" if np.isnan(d) else f"{d:+.2f}")
    interval = [note if note else "" if np.isnan(lo) else f"[{lo:+.2f}, {hi:+.2f}]"
                for lo, hi, note in zip(comparison["lo"], comparison["hi"], comparison["boot_note"])]
    wilcoxon = [note or _p(p) for p, note in zip(comparison["p_holm"], comparison["wilcoxon_note"])]
    columns = {f"Δ {metric.upper()}": delta, f"Δ {100 * level:g}% CI": pd.Series(interval, index=comparison.index),
               "p (bootstrap, Holm)": comparison["p_boot_holm"].map(_p),
               "p (Wilcoxon, Holm)": pd.Series(wilcoxon, index=comparison.index)}
    # text columns: with no row compared (a baseline alone) a column is empty, and pandas types it float
    return table.assign(**{name: values.astype(object).reindex(table.index).fillna("baseline" if i == 0 else "")
                           for i, (name, values) in enumerate(columns.items())})


def render(summary: pd.DataFrame, long: pd.DataFrame, spec: TableView, footnote: str = "",
           failed=frozenset(), status: str = "", stats: TableStats | None = None) -> Rendered:
    """``status`` follows the title in the captions of the tables of runs (e.g. " [INCOMPLETE: 1/18 cells
    missing]"), not in the paper's numbers. ``stats`` (from the runs' test scores: :func:`table_stats`) gives
    the intervals, the paired bootstrap and their footnote; without it cells are ±std and only Wilcoxon compares."""
    labels, metric = dict(spec.rows), spec.metrics[0]
    comparison = compare_rows(long, [r for r, _ in spec.rows], spec.baseline_row, metric,
                              stats.paired if stats else None)
    form, summary = (stats.interval if stats else "std"), with_intervals(summary, stats)
    footnote = (footnote + (stats.note if stats else "")).strip()
    styles = {"md": lambda t: f"**{t}**", "tex": lambda t: f"\\textbf{{{t}}}", "csv": str}
    main = {style: with_comparison(cells(summary, spec, wrap, failed, form, bounds=style == "csv"), comparison,
                                   metric).rename(index=labels) for style, wrap in styles.items()}
    grids = {style: grid_tables(summary, spec, wrap, status) for style, wrap in styles.items()}
    shown = [c for c in main["csv"].columns if not c.endswith((" std", " lo", " hi"))]
    extra = {style: [*grids[style].values(), *paper_table(spec, shown)] for style in styles}
    unit = unit_of(form, summary, stats.level if stats else 0.95)
    markdown = [to_markdown(main["md"], spec.title + status, footnote, unit=unit)] + [to_markdown(*t) for t in
                                                                                      extra["md"]]
    latex = [to_latex(main["tex"], spec.title + status, footnote, unit=unit)] + [to_latex(*t) for t in extra["tex"]]
    return Rendered(markdown="\n\n".join(markdown), latex="\n\n".join(latex), frame=main["csv"],
                    grids={col: g[0] for col, g in grids["csv"].items()}, stats=stats)


def unit_of(form: str, summary: pd.DataFrame, level: float = 0.95) -> str:
    """The caption's unit: what the cells hold (``level``: the intervals' coverage)."""
    if form != "ci":
        return SEED_STATS
    fallback = summary["lo"].isna() & (summary["n"] > 0)
    return ci_stats(level) + (f"; {FALLBACK} mean±std over seeds, no interval (why: footnote)" if fallback.any()
                              else "")


def paper_table(spec: TableView, columns) -> list[tuple[pd.DataFrame, str, str, str, str]]:
    """The paper's numbers in the same rows and columns (those the paper reports), for reading side by side."""
    if not spec.paper:
        return []
    shown = [c for c in columns if any(c in cells for cells in spec.paper.values())]
    table = pd.DataFrame([[f"{spec.paper.get(row, {}).get(c):.2f}" if c in spec.paper.get(row, {}) else "—"
                           for c in shown] for row, _ in spec.rows], index=[label for _, label in spec.rows],
                         columns=shown)
    return [(table, f"{spec.title}: the paper's numbers", "As reported, at the paper's scale and on its data.",
             "Row", "%")]


def grid_tables(summary: pd.DataFrame, spec: TableView, wrap,
                status: str = "") -> dict[str, tuple[pd.DataFrame, str, str, str]]:
    """Protocol column -> (grid of the first metric, caption, footnote, corner) when the sweep declares a grid
    (MoAE-CR Table 5: ACER as experts x heads); empty otherwise."""
    if not spec.layout:
        return {}
    metric, (first, second) = spec.metrics[0], axis_names(spec)
    out = {}
    for col in spec.columns():
        stats = grid_stats(summary, spec, metric, col)
        caption = f"{spec.title}{status}: {metric.upper()} on {col}, {first} (rows) x {second} (columns)"
        table = grid_cells(stats, len(spec.seeds), metric in LOWER_IS_BETTER, wrap, cell_text)
        out[col] = (table, caption, "", f"{first} / {second}")
    return out


SEED_STATS = "%, mean±std over seeds"
def ci_stats(level: float) -> str:
    return f"%, mean over seeds [{100 * level:g}% bootstrap CI]"


CI_STATS = ci_stats(0.95)  # the default intervals' caption


def to_markdown(table: pd.DataFrame, title: str, footnote: str = "", corner: str = "Row",
                unit: str = SEED_STATS) -> str:
    header = "| " + " | ".join([corner, *map(str, table.columns)]) + " |"
    sep = "|" + "---|" * (len(table.columns) + 1)
    lines = [f"**{title}** ({unit})", "", header, sep]
    lines += ["| " + " | ".join([str(idx), *map(str, vals)]) + " |" for idx, vals in zip(table.index, table.values)]
    return "\n".join(lines + (["", footnote] if footnote else []))


def _tex(text: str) -> str:
    return (str(text).replace("±", "$\\pm$").replace("Δ", "$\\Delta$").replace("↑", "$\\uparrow$")
            .replace("↓", "$\\downarrow$").replace("%", "\\%").replace("_", "\\_").replace("&", "\\&")
            .replace("†", "$^\\dagger$").replace("<", "$<$").replace("≥", "$\\geq$").replace("α", "$\\alpha$")
            .replace("δ", "$\\delta$").replace("σ²", "$\\sigma^2$").replace("c̄", "$\\bar{c}$").replace("−", "-")
            .replace("2^n", "$2^n$"))


def to_latex(table: pd.DataFrame, title: str, footnote: str = "", corner: str = "Row", unit: str = SEED_STATS) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``)."""
    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{_tex(title)} ({_tex(unit)})}}",
             "\\begin{tabular}{l" + "c" * len(table.columns) + "}", "\\toprule",
             " & ".join([_tex(corner), *map(_tex, table.columns)]) + " \\\\", "\\midrule"]
    lines += [" & ".join([_tex(idx), *map(_tex, vals)]) + " \\\\" for idx, vals in zip(table.index, table.values)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    if footnote:
        lines.append(f"\\par\\footnotesize {_tex(footnote)}")
    return "\n".join(lines + ["\\end{table}"])


def best_row(summary: pd.DataFrame, spec: TableView) -> str:
    """The row with the best mean of the first metric in the first column (the table's headline cell)."""
    metric, column = spec.metrics[0], spec.columns()[0]
    part = summary[(summary["protocol"] == column) & (summary["metric"] == metric)].set_index("row")
    return _best(part["mean"], metric) or spec.baseline_row
