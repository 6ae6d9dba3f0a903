"""Tables from a tidy frame of runs: mean±std over seeds, declared rows only, missing seeds flagged, groups,
arrows and bold against the baseline, paired Δ with Holm-adjusted p-values, Markdown and LaTeX. (Intervals and the
paired bootstrap from test scores: test_table_uncertainty.py.)"""

import json

import numpy as np
import pandas as pd
from scipy import stats

from pad_core.ablation import TableView, long_form, render, summarize
from pad_core.ablation.compare import holm

SPEC = TableView(title="T", rows=[("clip", "vanilla CLIP"), ("rate1", "Rate 1")], protocols=["P1"], seeds=[0, 1],
                 metrics=["acer", "eer"], hashes={"clip": "h_clip", "rate1": "h_rate1"})


def run(row, seed, acer, eer, config_hash=None, protocol="P1"):
    return {"row": row, "protocol": protocol, "seed": seed, "config_hash": config_hash or f"h_{row}",
            f"test/{protocol.lower()}/acer": acer, f"test/{protocol.lower()}/eer": eer}


def table_of(frame, spec=SPEC):
    frame = spec.declared(frame)
    return render(summarize(frame, spec), long_form(frame, spec), spec)


def test_mean_std_in_percent_declared_order_arrows_and_bold():
    frame = pd.DataFrame([run("rate1", 0, 0.10, 0.12), run("rate1", 1, 0.20, 0.14), run("clip", 0, 0.30, 0.3),
                          run("clip", 1, 0.50, 0.3)])
    out = table_of(frame)
    assert list(out.frame.index) == ["vanilla CLIP", "Rate 1"]
    assert out.frame.loc["Rate 1", "P1 ACER"] == f"15.00±{np.std([10, 20], ddof=1):.2f}↓"
    assert out.frame.loc["vanilla CLIP", "P1 EER"] == "30.00±0.00"
    assert f"| Rate 1 | **15.00±{np.std([10, 20], ddof=1):.2f}**↓ |" in out.markdown
    assert "\\toprule" in out.latex and "\\textbf{15.00$\\pm$7.07}$\\downarrow$" in out.latex


def test_runs_of_other_configs_seeds_or_protocols_are_ignored_and_gaps_flagged():
    frame = pd.DataFrame([run("clip", 0, 0.3, 0.3), run("clip", 1, 0.5, 0.5, config_hash="stale"),
                          run("clip", 7, 0.9, 0.9), run("clip", 1, 0.9, 0.9, protocol="P2")])
    out = table_of(frame)
    assert out.frame.loc["vanilla CLIP", "P1 ACER"] == "30.00±0.00 (n=1/2)"
    assert out.frame.loc["Rate 1", "P1 ACER"] == "—"
    assert out.markdown.splitlines()[2] == ("| Row | P1 ACER | P1 EER | Δ ACER | Δ 95% CI | p (bootstrap, Holm) | "
                                            "p (Wilcoxon, Holm) |")


def test_group_columns_are_mean_and_std_over_sub_protocol_means():
    spec = TableView("T", [("clip", "CLIP"), ("moe", "MoE")], ["P2.1", "P2.2"], [0, 1], ["acer"],
                     {"clip": "h_clip", "moe": "h_moe"}, groups={"P2": ["P2.1", "P2.2"]})
    rows = [run(r, s, v + 0.01 * s, 0, protocol=p) for r, base in (("clip", 0.2), ("moe", 0.1))
            for p, v in (("P2.1", base), ("P2.2", base + 0.1)) for s in (0, 1)]
    out = table_of(pd.DataFrame(rows), spec)
    assert list(out.frame.columns[:12]) == [f"{p} ACER{side}" for p in ("P2.1", "P2.2", "P2")
                                            for side in ("", " std", " lo", " hi")]
    assert out.frame.loc["MoE", "P2 ACER std"] == f"{np.std([10.5, 20.5], ddof=1):.2f}"
    assert out.frame.loc["MoE", "P2 ACER lo"] == ""  # no scores: no interval
    means = [10.5, 20.5]
    assert out.frame.loc["MoE", "P2 ACER"] == f"{np.mean(means):.2f}±{np.std(means, ddof=1):.2f}↓"


def test_paired_delta_and_wilcoxon_against_scipy_with_holm():
    spec = TableView("T", [("a", "A"), ("b", "B"), ("c", "C")], ["P1", "P2"], [0, 1, 2, 3], ["acer"],
                     {"a": "h_a", "b": "h_b", "c": "h_c"})
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.3, 8)
    shifts = {"a": np.zeros(8), "b": -0.05 + 0.01 * rng.standard_normal(8), "c": 0.01 * rng.standard_normal(8)}
    cells = [(p, s) for p in ("P1", "P2") for s in (0, 1, 2, 3)]
    frame = pd.DataFrame([run(r, s, base[i] + shifts[r][i], 0, protocol=p) for r in "abc"
                          for i, (p, s) in enumerate(cells)])
    out = table_of(frame, spec)
    raw = {r: stats.wilcoxon(100 * shifts[r], zero_method="zsplit").pvalue for r in "bc"}
    adjusted = holm(raw)
    assert out.frame.loc["B", "Δ ACER"] == f"{100 * shifts['b'].mean():+.2f}"
    assert out.frame.loc["B", "p (Wilcoxon, Holm)"] == f"{adjusted['b']:.3f}"  # 8 cells, 2 rows: can reach 0.05
    assert out.frame.loc["A", "Δ ACER"] == "baseline"
    assert min(1, 2 * min(raw.values())) == min(adjusted.values())  # Holm: the smallest p is multiplied by m


def test_spec_round_trip_from_the_parent_tag():
    from pad_core.ablation import AblationSpec
    from pad_core.config import scale_overrides
    from search_spaces.mmoe import MASK_RATE_ROWS, MMOE_BASE

    spec = AblationSpec("s", "T5", MASK_RATE_ROWS, ("P1", "P3.1", "P3.2", "P3.3", "P3.4", "P3.5", "P3.6"), (0, 1),
                        base={**MMOE_BASE, **scale_overrides("demo")})
    parsed = TableView.from_json(spec.describe())
    assert [r for r, _ in parsed.rows] == [r.name for r in MASK_RATE_ROWS]
    assert parsed.hashes == {c.row.name: c.config_hash for c in spec.cells()}
    assert parsed.groups == {"P3": ["P3.1", "P3.2", "P3.3", "P3.4", "P3.5", "P3.6"]}
    assert parsed.columns()[-1] == "P3" and parsed.baseline_row == MASK_RATE_ROWS[0].name
    assert json.loads(spec.describe())["rows"][1]["delta"] == {"moe.soft.mask_rates": "0.0,0.1,0.1,0.1"}


def test_failed_cells_are_marked():
    frame = SPEC.declared(pd.DataFrame([run("clip", 0, 0.3, 0.3), run("clip", 1, 0.5, 0.3), run("rate1", 0, 0.1, 0.1)]))
    out = render(summarize(frame, SPEC), long_form(frame, SPEC), SPEC, failed={("rate1", "P1")})
    assert out.frame.loc["Rate 1", "P1 ACER"].endswith("✗") and "(n=1/2)" in out.frame.loc["Rate 1", "P1 ACER"]
    assert "✗" not in out.frame.loc["vanilla CLIP", "P1 ACER"]
