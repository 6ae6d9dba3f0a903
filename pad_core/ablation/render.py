"""A summarised ablation as the paper would print it: Markdown, LaTeX (booktabs) and CSV.

Cells are mean±std over seeds in percent; cells short of the declared seeds say ``(n=1/3)``; arrows give the
direction against the baseline row (MMoE Table 6 style); the best mean of each column is bold; the last two
columns are the paired Δ of the first metric against the baseline and its Holm-adjusted p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pad_core.ablation.compare import compare_rows
from pad_core.ablation.table import TableSpec

LOWER_IS_BETTER = frozenset({"acer", "eer", "apcer", "bpcer", "hter"})


@dataclass(frozen=True)
class Rendered:
    markdown: str
    latex: str
    frame: pd.DataFrame  # plain strings, for CSV


def cell_text(mean: float, std: float, n: int, expected: int) -> str:
    if n == 0 or np.isnan(mean):
        return "—"
    flag = "" if n >= expected else f" (n={n}/{expected})"
    return f"{mean:.2f}±{std:.2f}{flag}"


def _arrow(mean: float, base: float) -> str:
    if np.isnan(mean) or np.isnan(base) or round(mean, 2) == round(base, 2):
        return ""
    return "↑" if mean > base else "↓"


def _best(values: pd.Series, metric: str) -> str | None:
    values = values.dropna()
    if values.empty:
        return None
    return str(values.idxmin() if metric in LOWER_IS_BETTER else values.idxmax())


def cells(summary: pd.DataFrame, spec: TableSpec, bold) -> pd.DataFrame:
    """Rows x "<protocol> <METRIC>" text cells; ``bold`` wraps the best cell of a column (identity for CSV)."""
    out = pd.DataFrame(index=[r for r, _ in spec.rows])
    for col in spec.columns():
        for metric in spec.metrics:
            part = summary[(summary["protocol"] == col) & (summary["metric"] == metric)].set_index("row")
            base, best = part["mean"].get(spec.baseline_row, np.nan), _best(part["mean"], metric)
            out[f"{col} {metric.upper()}"] = [
                _decorate(part.loc[r], spec, r, base, bold if r == best else str) for r in out.index]
    return out


def _decorate(line: pd.Series, spec: TableSpec, row: str, base: float, wrap) -> str:
    text = wrap(cell_text(line["mean"], line["std"], int(line["n"]), len(spec.seeds)))
    return text if row == spec.baseline_row else text + _arrow(line["mean"], base)


def with_comparison(table: pd.DataFrame, comparison: pd.DataFrame, metric: str) -> pd.DataFrame:
    delta = comparison["delta"].map(lambda d: "" if np.isnan(d) else f"{d:+.2f}")
    p = comparison["p_holm"].map(lambda v: "" if np.isnan(v) else f"{v:.3f}")
    return table.assign(**{f"Δ {metric.upper()}": delta.reindex(table.index).fillna("baseline"),
                           "p (Holm)": p.reindex(table.index).fillna("")})


def render(summary: pd.DataFrame, long: pd.DataFrame, spec: TableSpec, footnote: str = "") -> Rendered:
    labels, metric = dict(spec.rows), spec.metrics[0]
    comparison = compare_rows(long, [r for r, _ in spec.rows], spec.baseline_row, metric)
    tables = {style: with_comparison(cells(summary, spec, wrap), comparison, metric).rename(index=labels)
              for style, wrap in (("md", lambda t: f"**{t}**"), ("tex", lambda t: f"\\textbf{{{t}}}"), ("csv", str))}
    return Rendered(markdown=to_markdown(tables["md"], spec.title, footnote),
                    latex=to_latex(tables["tex"], spec.title, footnote), frame=tables["csv"])


def to_markdown(table: pd.DataFrame, title: str, footnote: str = "") -> str:
    header = "| " + " | ".join(["Row", *table.columns]) + " |"
    sep = "|" + "---|" * (len(table.columns) + 1)
    lines = [f"**{title}** (%, mean±std over seeds)", "", header, sep]
    lines += ["| " + " | ".join([str(idx), *map(str, vals)]) + " |" for idx, vals in zip(table.index, table.values)]
    return "\n".join(lines + (["", footnote] if footnote else []))


def _tex(text: str) -> str:
    return (str(text).replace("±", "$\\pm$").replace("Δ", "$\\Delta$").replace("↑", "$\\uparrow$")
            .replace("↓", "$\\downarrow$").replace("%", "\\%").replace("_", "\\_").replace("&", "\\&"))


def to_latex(table: pd.DataFrame, title: str, footnote: str = "") -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``)."""
    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{_tex(title)} (\\%, mean$\\pm$std over seeds)}}",
             "\\begin{tabular}{l" + "c" * len(table.columns) + "}", "\\toprule",
             " & ".join(["Row", *map(_tex, table.columns)]) + " \\\\", "\\midrule"]
    lines += [" & ".join([_tex(idx), *map(_tex, vals)]) + " \\\\" for idx, vals in zip(table.index, table.values)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    if footnote:
        lines.append(f"\\par\\footnotesize {_tex(footnote)}")
    return "\n".join(lines + ["\\end{table}"])
