"""Table statistics from constructed test scores: bootstrap intervals per cell (by subject, seeds combined), the
paired bootstrap against the baseline (Holm), Wilcoxon only where it can be small, the footnote, the ±std fallback
for runs without scores, and the seed planning formula. Expected values are computed here by hand."""

import math
import time

import numpy as np
import pandas as pd
import pytest

from pad_core.ablation import TableView, long_form, render, summarize
from pad_core.ablation.compare import TOO_FEW, min_wilcoxon_cells
from pad_core.ablation.paired import NOT_PAIRED, OTHER_UNITS, two_sided_p
from pad_core.ablation.resolution import Resolution, pooled_seed_variance
from pad_core.ablation.table_stats import table_stats
from pad_core.ablation.uncertainty import Bootstrap, cell_intervals, draw_runs, from_scores_csv
from pad_core.errors import PadError


def subjects_set(n_subjects: int, live_errors: int, attack_errors: int, per_subject: int = 1, offset: int = 0):
    """A test set: each subject has ``per_subject`` bona fide and ``per_subject`` attack samples. The first
    ``live_errors`` subjects' bona fide samples score 0.2 (rejected at tau 0.5), the next ``attack_errors``
    subjects' attacks score 0.8 (accepted); every other sample is right. All samples of a subject agree."""
    lines = []
    for s in range(n_subjects):
        for i in range(per_subject):
            lines.append({"path": f"s{s:04d}/live{i}.png", "subject": f"id{s:04d}", "label": 1,
                          "score": 0.2 if s < live_errors else 0.9, "attack_type": "none"})
            wrong = live_errors + offset <= s < live_errors + offset + attack_errors
            lines.append({"path": f"s{s:04d}/print{i}.png", "subject": f"id{s:04d}", "label": 0,
                          "score": 0.8 if wrong else 0.1, "attack_type": "print"})
    return pd.DataFrame(lines).assign(split="test")


def scores_of(rows, threshold=0.5):
    return from_scores_csv(rows, threshold, per_video=False)


SPEC = TableView(title="T", rows=[("base", "Baseline"), ("better", "Better"), ("same", "Same")], protocols=["P1"],
                 seeds=[0, 1], metrics=["acer"], hashes={"base": "h", "better": "h", "same": "h"})


def runs_frame(values: dict[tuple[str, str, int], float]) -> pd.DataFrame:
    return pd.DataFrame([{"row": r, "protocol": p, "seed": s, "config_hash": "h", f"test/{p.lower()}/acer": v}
                         for (r, p, s), v in values.items()])


def acer_of(rows, tau=0.5) -> float:
    live, attack = rows[rows["label"] == 1], rows[rows["label"] == 0]
    return ((attack["score"] >= tau).mean() + (live["score"] < tau).mean()) / 2


def test_interval_covers_the_value_with_the_binomial_width():
    """400 subjects, 10% bona fide and 20% attacks wrong: ACER 15%; with one sample per subject and class the
    errors are independent Bernoulli draws, so the 95% interval is about ±1.96·sqrt(pq/n)/2 per class."""
    rows = subjects_set(400, 40, 80)
    draws = draw_runs({("base", "P1", 0): scores_of(rows)}, ["acer", "apcer", "bpcer"], Bootstrap())
    lo, hi = np.percentile(draws.values[("base", "P1", 0)]["acer"], [2.5, 97.5])
    se = 0.5 * math.sqrt(0.1 * 0.9 / 400 + 0.2 * 0.8 / 400) * 100
    assert lo < 15.0 < hi
    assert (hi - lo) / 2 == pytest.approx(1.96 * se, rel=0.15)
    assert np.median(draws.values[("base", "P1", 0)]["bpcer"]) == pytest.approx(10.0, abs=1.0)


def test_interval_shrinks_with_more_subjects():
    widths = {}
    for n in (50, 800):
        draws = draw_runs({("base", "P1", 0): scores_of(subjects_set(n, n // 10, n // 5))}, ["acer"], Bootstrap())
        lo, hi = np.percentile(draws.values[("base", "P1", 0)]["acer"], [2.5, 97.5])
        widths[n] = hi - lo
    assert widths[800] < widths[50] / 3  # sqrt(16) = 4 in theory


def test_subject_resampling_is_wider_than_row_resampling_when_a_subjects_samples_agree():
    """10 samples per subject, all right or all wrong together: the effective sample is 100 subjects, not 1000
    rows, so resampling subjects gives an interval about sqrt(10) times wider than resampling rows."""
    rows = subjects_set(100, 10, 20, per_subject=10)
    by_subject = scores_of(rows)
    by_row = scores_of(rows.drop(columns="subject"))
    assert (by_subject.unit_kind, by_row.unit_kind) == ("subject", "row")
    widths = {}
    for name, run in (("subject", by_subject), ("row", by_row)):
        values = draw_runs({("base", "P1", 0): run}, ["acer"], Bootstrap()).values[("base", "P1", 0)]["acer"]
        widths[name] = np.subtract(*np.percentile(values, [97.5, 2.5]))
    assert widths["subject"] > 2.5 * widths["row"]


def test_test_eer_policy_refinds_the_threshold_in_each_resample():
    """No logged threshold applies (None): each resample's ACER is at its own EER threshold. On this set every
    threshold in (0.2, 0.8] gives APCER = BPCER = 10%, so the whole set's value is 10% (it reproduces the logged
    value); a resample's EER point balances its own errors, so its ACER is never above the fixed 0.5 threshold's."""
    rows = subjects_set(200, 20, 20)
    refound = draw_runs({("base", "P1", 0): scores_of(rows, threshold=None)}, ["acer"], Bootstrap(),
                        {("base", "P1", 0): {"acer": 0.1}})
    fixed = draw_runs({("base", "P1", 0): scores_of(rows)}, ["acer"], Bootstrap())
    values = refound.values[("base", "P1", 0)]["acer"]
    assert refound.why_missing(("base", "P1", 0), "acer") == "" and np.median(values) == pytest.approx(10, abs=1.5)
    assert np.all(values <= fixed.values[("base", "P1", 0)]["acer"] + 1e-9)


def test_video_column_is_the_unit_without_subjects_and_videos_are_scored_as_the_run_did():
    rows = subjects_set(30, 3, 6, per_subject=4).drop(columns="subject")
    rows["video"] = rows["path"].str.replace(r"\d\.png$", "", regex=True)  # 4 frames per video
    per_video = from_scores_csv(rows, 0.5, per_video=True)
    assert per_video.unit_kind == "video" and len(per_video.scores) == 60  # 30 subjects x (live, print) videos
    per_frame = from_scores_csv(rows, 0.5, per_video=False)
    assert per_frame.unit_kind == "video" and len(per_frame.scores) == 240 and len(np.unique(per_frame.groups)) == 60


def table_of(runs: dict, values: dict, spec=SPEC, interval=None, boot=None):
    frame = spec.declared(runs_frame(values))
    stats = table_stats(frame, spec, runs, boot or Bootstrap(), interval)
    return render(summarize(frame, spec), long_form(frame, spec), spec, "Provenance: test.", stats=stats), stats


def paired_table():
    """Baseline errs on 8 of 40 subjects, 'better' on none, 'same' is the baseline's scores: two seeds each."""
    sets = {"base": subjects_set(40, 4, 4), "better": subjects_set(40, 0, 0), "same": subjects_set(40, 4, 4)}
    runs = {(r, "P1", s): scores_of(rows) for r, rows in sets.items() for s in (0, 1)}
    values = {k: acer_of(sets[k[0]]) for k in runs}
    return table_of(runs, values)


def test_paired_bootstrap_identical_row_p_one_and_clearly_better_row_survives_holm():
    out, stats = paired_table()
    same, better = stats.paired["same"], stats.paired["better"]
    assert (same.p, same.lo, same.hi) == (1.0, 0.0, 0.0)
    assert out.frame.loc["Same", "Δ ACER"] == "+0.00" and out.frame.loc["Same", "Δ 95% CI"] == "[+0.00, +0.00]"
    assert better.p == pytest.approx(2 / 1001)  # no resample crosses 0: the smallest p, 2/(B+1)
    assert better.hi < 0 and out.frame.loc["Better", "Δ ACER"] == "-10.00"
    assert out.frame.loc["Better", "p (bootstrap, Holm)"] == f"{2 * 2 / 1001:.3f}"  # x2 rows: still < 0.05
    assert out.frame.loc["Same", "p (bootstrap, Holm)"] == "1.000"
    assert out.frame.loc["Better", "p (Wilcoxon, Holm)"] == f"{TOO_FEW} (n=2 < 7 with 2 rows)"
    assert out.frame.loc["Baseline", "Δ ACER"] == "baseline"


def test_bootstrap_p_is_two_sided_with_resolution_one_over_b():
    assert two_sided_p(np.zeros(999)) == 1.0
    assert two_sided_p(np.r_[-np.ones(900), np.ones(99)]) == pytest.approx(2 * 100 / 1000)
    assert two_sided_p(np.full(999, np.nan)) != two_sided_p(np.full(999, np.nan))  # NaN: no resample


def test_tables_are_deterministic_and_cells_show_the_interval():
    first, _ = paired_table()
    again, _ = paired_table()
    assert first.markdown == again.markdown
    cell = first.frame.loc["Baseline", "P1 ACER"]
    mean, bounds = cell.split(" [")
    lo, hi = (float(v) for v in bounds.rstrip("]").split(", "))
    assert float(mean) == pytest.approx(10.0) and lo < 10.0 < hi
    assert first.frame.loc["Baseline", "P1 ACER lo"] == f"{lo:.2f}"  # the CSV has the bounds as numbers
    assert "(%, mean over seeds [95% bootstrap CI])" in first.markdown
    assert f"10.00 [{lo:.2f}, {hi:.2f}]" in first.latex
    assert "$\\pm$" not in first.latex.split("\\midrule")[1].split("\\bottomrule")[0]  # the body: intervals only


def test_footnote_names_the_method():
    out, _ = paired_table()
    for said in ("95% percentile bootstrap, B=1000 resamples of the test set by subject",
                 "seeds are not resampled", "mean over its seeds (up to 2)", "paired bootstrap",
                 "resolution 1/B", "Holm-corrected across rows", "Resolvable ACER difference with 2 seeds"):
        assert said in out.markdown, said
    assert "Provenance: test." in out.latex and "\\dagger" not in out.latex


def test_the_footnote_names_cells_whose_seeds_scored_different_test_sets():
    """After --allow-mixed-data a cell's seeds may have scored different test sets: their draws are independent,
    and the footnote says so instead of claiming one shared draw."""
    sets = {0: subjects_set(40, 4, 4), 1: subjects_set(41, 4, 4)}  # seed 1: another test set (one more subject)
    runs = {("base", "P1", s): scores_of(rows) for s, rows in sets.items()}
    spec = TableView("T", [("base", "Baseline")], ["P1"], [0, 1], ["acer"], {"base": "h"})
    out, _ = table_of(runs, {k: acer_of(sets[k[2]]) for k in runs}, spec)
    assert "Except in base·P1: their seeds ran on different test sets" in out.markdown
    same, _ = paired_table()
    assert "Except in" not in same.markdown


def test_the_caption_states_the_intervals_level():
    sets = {"base": subjects_set(40, 4, 4), "better": subjects_set(40, 0, 0), "same": subjects_set(40, 4, 4)}
    runs = {(r, "P1", s): scores_of(rows) for r, rows in sets.items() for s in (0, 1)}
    out, _ = table_of(runs, {k: acer_of(sets[k[0]]) for k in runs}, boot=Bootstrap(level=0.9))
    assert "(%, mean over seeds [90% bootstrap CI])" in out.markdown and "90% percentile bootstrap" in out.markdown


def test_runs_without_scores_fall_back_to_std_marked_and_never_mixed_silently():
    sets = {"base": subjects_set(40, 4, 4), "better": subjects_set(40, 0, 0), "same": subjects_set(40, 4, 4)}
    runs = {(r, "P1", s): scores_of(rows) for r, rows in sets.items() for s in (0, 1) if r != "same"}
    values = {(r, "P1", s): acer_of(rows) + 0.01 * s * (r == "same") for r, rows in sets.items() for s in (0, 1)}
    out, stats = table_of(runs, values)
    assert out.frame.loc["Same", "P1 ACER"] == f"10.50±{np.std([10, 11], ddof=1):.2f}†↑"
    assert out.frame.loc["Same", "P1 ACER lo"] == ""
    assert out.frame.loc["Better", "P1 ACER"] == "0.00 [0.00, 0.00]↓"
    assert "† mean±std over seeds, no interval (why: footnote)" in out.markdown
    assert "No interval (marked †, ±std over seeds instead): no scores.csv (runs of older code): same·P1 ACER." \
        in out.markdown
    assert out.frame.loc["Same", "Δ 95% CI"] == "no bootstrap: no scores.csv (runs of older code)"
    assert "$^\\dagger$" in out.latex
    std, _ = table_of(runs, values, interval="std")
    assert std.frame.loc["Better", "P1 ACER"] == "0.00±0.00↓" and std.frame.loc["Better", "P1 ACER lo"] == "0.00"


def test_scores_that_do_not_reproduce_the_logged_value_get_no_interval():
    """An interval is never printed next to a number it was not drawn around (a changed file, another scoring
    level): the cell falls back to ±std and the footnote says why."""
    sets = {"base": subjects_set(40, 4, 4), "better": subjects_set(40, 0, 0), "same": subjects_set(40, 4, 4)}
    runs = {(r, "P1", s): scores_of(rows) for r, rows in sets.items() for s in (0, 1)}
    values = {k: acer_of(sets[k[0]]) + 0.02 * (k == ("better", "P1", 1)) for k in runs}
    out, _ = table_of(runs, values)
    assert out.frame.loc["Better", "P1 ACER"].endswith("†↓")
    assert "scores.csv does not reproduce the logged value: better·P1 ACER" in out.markdown
    assert out.frame.loc["Same", "P1 ACER"].startswith("10.00 [")


def test_a_run_without_a_logged_value_gets_no_draws_of_it():
    """The table's mean skips a run whose metric was not logged; its interval must skip it too."""
    rows = subjects_set(50, 5, 5)
    key = ("base", "P1", 0)
    draws = draw_runs({key: scores_of(rows)}, ["acer", "eer"], Bootstrap(resamples=50),
                      {key: {"acer": acer_of(rows), "eer": float("nan")}})
    assert "acer" in draws.values[key] and "eer" not in draws.values[key]
    assert "no logged value" in draws.why_missing(key, "eer")


def test_no_scores_at_all_is_std_and_asking_for_intervals_is_refused():
    values = {(r, "P1", s): 0.1 + 0.01 * s for r in ("base", "better", "same") for s in (0, 1)}
    out, stats = table_of({}, values)
    assert stats.interval == "std" and "(%, mean±std over seeds)" in out.markdown
    assert "No run has a scores.csv artifact" in out.markdown
    with pytest.raises(PadError, match="--interval='ci': no tabulated run has a scores.csv"):
        table_of({}, values, interval="ci")


def test_rows_on_different_test_sets_are_not_paired():
    sets = {"base": subjects_set(40, 4, 4), "better": subjects_set(41, 0, 0), "same": subjects_set(40, 4, 4)}
    runs = {(r, "P1", s): scores_of(rows) for r, rows in sets.items() for s in (0, 1)}
    out, stats = table_of(runs, {k: acer_of(sets[k[0]]) for k in runs})
    assert out.frame.loc["Better", "Δ 95% CI"] == f"{NOT_PAIRED} (P1)"
    assert out.frame.loc["Better", "p (bootstrap, Holm)"] == ""
    assert f"better: {NOT_PAIRED} (P1)" in out.markdown
    runs.update({("better", "P1", s): scores_of(sets["base"].drop(columns="subject")) for s in (0, 1)})
    out, _ = table_of(runs, {k: acer_of(sets["base"] if k[0] == "better" else sets[k[0]]) for k in runs})
    assert out.frame.loc["Better", "Δ 95% CI"] == f"{OTHER_UNITS} (P1)"


def test_wilcoxon_says_n_too_small_below_six_cells_and_gives_p_from_six():
    spec = TableView("T", [("a", "A"), ("b", "B")], ["P1", "P2", "P3"], [0, 1], ["acer"], {"a": "h", "b": "h"})
    values = {(r, p, s): 0.2 - 0.05 * (r == "b") + 0.001 * s * (p == "P2") for r in "ab" for p in spec.protocols
              for s in (0, 1)}
    out, _ = table_of({}, values, spec)
    assert out.frame.loc["B", "p (Wilcoxon, Holm)"] == "0.031"  # 6 cells, all lower: 2/2^6
    short = TableView("T", spec.rows, ["P1", "P2"], [0, 1], ["acer"], spec.hashes)
    out, _ = table_of({}, {k: v for k, v in values.items() if k[1] != "P3"}, short)
    assert out.frame.loc["B", "p (Wilcoxon, Holm)"] == f"{TOO_FEW} (n=4 < 6)"


def test_wilcoxon_needs_more_cells_when_holm_adjusts_over_more_rows():
    """Two compared rows: Holm doubles the smallest p, so 6 cells (2·2/64 = 0.0625) cannot reach 0.05; 7 can."""
    assert [min_wilcoxon_cells(m) for m in (1, 2, 3, 4, 6, 7)] == [6, 7, 7, 8, 8, 9]  # m·2/2^n < 0.05
    spec = TableView("T", [("a", "A"), ("b", "B"), ("c", "C")], ["P1", "P2", "P3"], [0, 1], ["acer"],
                     {r: "h" for r in "abc"})
    values = {(r, p, s): 0.2 - 0.05 * (r != "a") for r in "abc" for p in spec.protocols for s in (0, 1)}
    out, _ = table_of({}, values, spec)
    assert out.frame.loc["B", "p (Wilcoxon, Holm)"] == f"{TOO_FEW} (n=6 < 7 with 2 rows)"


def test_many_rows_raise_b_so_the_holm_adjusted_bootstrap_p_can_be_small():
    """With m compared rows the smallest adjusted p is 2m/(B+1): B grows to 200·m for the compared (first) metric,
    so it stays at or below 0.01; the other metrics keep B=1000 (the cost grows with the rows for one metric)."""
    rows = [("base", "Base"), *((f"r{i}", f"R{i}") for i in range(8))]
    spec = TableView("T", rows, ["P1"], [0], ["acer"], {r: "h" for r, _ in rows})
    sets = {r: subjects_set(40, 0, 0) if r != "base" else subjects_set(40, 4, 4) for r, _ in rows}
    runs = {(r, "P1", 0): scores_of(rows_) for r, rows_ in sets.items()}
    out, stats = table_of(runs, {k: acer_of(sets[k[0]]) for k in runs}, spec)
    assert "B=1000 (1600 for the first metric, which its paired comparison needs) resamples" in out.markdown
    assert "same 1600 draws" in out.markdown
    assert all(p.p == pytest.approx(2 / 1601) for p in stats.paired.values())
    assert out.frame.loc["R0", "p (bootstrap, Holm)"] == f"{8 * 2 / 1601:.3f}"


def test_group_column_interval_is_the_mean_of_its_members_per_resample():
    spec = TableView("T", [("base", "B")], ["P2.1", "P2.2"], [0], ["acer"], {"base": "h"},
                     groups={"P2": ["P2.1", "P2.2"]})
    sets = {"P2.1": subjects_set(60, 6, 6), "P2.2": subjects_set(60, 12, 12, offset=3)}
    runs = {("base", p, 0): scores_of(rows) for p, rows in sets.items()}
    draws = draw_runs(runs, ["acer"], Bootstrap())
    intervals = cell_intervals({("base", p): [("base", p, 0)] for p in sets}, draws, ["acer"], spec.groups)
    group = intervals.set_index("protocol").loc["P2"]
    expected = np.percentile((draws.values[("base", "P2.1", 0)]["acer"] + draws.values[("base", "P2.2", 0)]["acer"])
                             / 2, [2.5, 97.5])
    assert (group["lo"], group["hi"]) == pytest.approx(tuple(expected))


def test_resolution_formula_and_seed_planning_by_hand():
    res = Resolution("acer", seed_var=1.0, seed_df=4, test_var=0.05, protocols=2, seeds=3)
    z = 1.959964 + 0.841621
    assert res.smallest_difference() == pytest.approx(z * math.sqrt((2 / 3 + 0.05) / 2), rel=1e-5)
    target = 1.0
    needed = math.ceil(2 * 1.0 / (2 * target**2 / z**2 - 0.05))
    assert res.seeds_needed(target) == needed and res.smallest_difference(needed) <= target
    assert res.smallest_difference(needed - 1) > target
    assert res.seeds_needed(0.3) is None  # z*sqrt(0.05/2) = 0.44 pp floor
    assert "no number of seeds resolves it" in res.plan(0.3) and f"needs {needed} seeds" in res.plan(target)


def test_pooled_seed_variance_weights_cells_by_degrees_of_freedom():
    long = pd.DataFrame({"row": ["a"] * 3 + ["b"] * 2, "protocol": "P1", "seed": [0, 1, 2, 0, 1], "metric": "acer",
                         "value": [1.0, 2.0, 3.0, 5.0, 7.0]})
    var, df = pooled_seed_variance(long, "acer")
    assert df == 3 and var == pytest.approx((2 * 1.0 + 1 * 2.0) / 3)


def test_footnote_resolution_uses_the_shared_test_variance_of_paired_differences():
    _, stats = paired_table()
    res = stats.resolution
    assert res.source == "paired" and res.seed_df == 3 and res.seed_var == 0.0  # seeds share their scores here
    assert res.test_var > 0  # 'better' vs base varies with the draw of the 8 subjects the baseline gets wrong


def test_twenty_runs_of_ten_thousand_scores_in_seconds():
    rng = np.random.default_rng(0)
    spec = TableView("T", [(f"r{i}", f"R{i}") for i in range(5)], ["P1", "P2"], [0, 1], ["acer", "eer"],
                     {f"r{i}": "h" for i in range(5)})
    labels = np.repeat([0, 1], 5000)
    runs, values = {}, {}
    for p in spec.protocols:
        for r, _ in spec.rows:
            for s in spec.seeds:
                rows = pd.DataFrame({"path": [f"{p}/{i}" for i in range(10_000)], "label": labels,
                                     "subject": [f"id{i % 500}" for i in range(10_000)], "split": "test",
                                     "score": rng.normal(labels * 1.5, 1.0)})
                runs[(r, p, s)] = scores_of(rows, threshold=0.75)
                values[(r, p, s)] = acer_of(rows, tau=0.75)
    started = time.perf_counter()
    table_of(runs, values, spec)
    assert time.perf_counter() - started < 10.0
