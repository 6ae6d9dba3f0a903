"""Bootstrap resampling of test scores: vectorised resamples vs a per-resample loop of pad.py calls.

One table cell's interval resamples the test scores of its runs (seeds) by subject: ``group_weights`` draws the
resamples once per test set, ``resampled_metric`` evaluates each run under all of them (pad_core/metrics/resample.py).

- Vectorised: 1,000 resamples of 20 runs x 10,000 scores (500 subjects, scores rounded to 1e-4 so ties occur), per
  metric: ACER at a fixed (dev) threshold, ACER at each resample's own EER threshold (test_eer policy), EER, AUC.
  Goal: a few seconds for the whole cell (<= 5 s per metric on this 2-core machine). Also all seven metrics in one
  ``resampled_metrics`` call per run (one sort and one cumulative sum shared by all of them).
- Loop: what the same resamples cost as plain pad.py calls on the repeated rows (``np.repeat`` by the weights),
  timed over 50 resamples of one run, interleaved with the vectorised call on the same 50; ratio = loop / vectorised.

    .venv/bin/python bench/bootstrap.py [--quick] [--runs 20] [--n 10000] [--resamples 1000] [--json OUT]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pad_core.metrics import auc, decision_metrics, eer
from pad_core.metrics.resample import METRICS, group_weights, resampled_metric, resampled_metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root holds bench/

from bench.common import base_parser, emit, machine, md_table, ratios, setup, spread, time_interleaved  # noqa: E402

ALL = "all 7 metrics, one resampled_metrics call per run (test_eer)"
GOAL_SECONDS = 5.0  # one cell: 1,000 resamples of 20 runs x 10,000 scores, per metric
CASES = {  # name -> (metric, threshold: "dev" = a fixed threshold, None = re-found per resample)
    "acer @ dev threshold": ("acer", "dev"),
    "acer @ own EER threshold (test_eer)": ("acer", None),
    "eer": ("eer", None),
    "auc": ("auc", None),
}


def make_runs(n_runs: int, n: int, subjects: int, seed: int = 0):
    """One test set (labels, species, subjects) scored by ``n_runs`` runs, each a little differently."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    species = np.where(labels == 1, "none", rng.choice(["print", "replay", "mask"], n))
    groups = rng.integers(0, subjects, n).astype(str)
    runs = [np.round(1 / (1 + np.exp(-rng.normal(1.5 * labels - 0.75, 1.0))), 4) for _ in range(n_runs)]
    return runs, labels, species, groups


def vectorised(runs, labels, species, weights, metric: str, threshold) -> Callable[[], list]:
    taus = [0.5 if threshold == "dev" else None for _ in runs]
    return lambda: [resampled_metric(s, labels, weights, metric, t, species) for s, t in zip(runs, taus)]


def pad_loop(scores, labels, species, weights, metric: str, threshold) -> Callable[[], list]:
    """The same numbers the slow way: pad.py on the explicitly repeated rows, one resample at a time."""

    def one(row):
        s, y, sp = np.repeat(scores, row), np.repeat(labels, row), np.repeat(species, row)
        if metric == "eer":
            return eer(s, y)[0]
        if metric == "auc":
            return auc(s, y)
        return decision_metrics(s, y, sp, 0.5 if threshold == "dev" else eer(s, y)[1])[metric]

    return lambda: [one(row) for row in weights]


def all_at_once(runs, labels, species, weights) -> Callable[[], list]:
    """Every metric of every run in one call per run (test_eer policy: thresholds re-found per resample)."""
    return lambda: [resampled_metrics(s, labels, weights, METRICS, None, species) for s in runs]


def cell_seconds(runs, labels, species, weights, reps: int) -> dict:
    out = {}
    fns = {name: vectorised(runs, labels, species, weights, metric, threshold)
           for name, (metric, threshold) in CASES.items()}
    fns[ALL] = all_at_once(runs, labels, species, weights)
    for name, fn in fns.items():
        fn()  # warm-up
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name] = spread(times)
    return out


def loop_ratios(runs, labels, species, weights, reps: int, warmup: int) -> dict:
    out = {}
    for name, (metric, threshold) in CASES.items():
        fns = {"loop": pad_loop(runs[0], labels, species, weights, metric, threshold),
               "vectorised": vectorised(runs[:1], labels, species, weights, metric, threshold)}
        times = time_interleaved(fns, reps=reps, warmup=warmup)
        out[name] = {"loop_s_per_resample": spread([t / len(weights) for t in times["loop"]]),
                     "ratio": spread(ratios(times["loop"], times["vectorised"]))}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = base_parser(__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--n", type=int, default=10_000, help="test scores per run")
    parser.add_argument("--subjects", type=int, default=500, help="resampling units (subjects) in the test set")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=50, help="resamples the pad.py loop is timed on")
    args = parser.parse_args(argv)
    setup(args)
    if args.quick:
        args.runs, args.n, args.subjects, args.resamples, args.loop_resamples = 2, 2000, 100, 50, 5
    reps, warmup = args.reps or (1 if args.quick else 3), args.warmup or 1
    runs, labels, species, groups = make_runs(args.runs, args.n, args.subjects)
    start = time.perf_counter()
    weights = group_weights(groups, args.resamples, seed=0)
    draw_s = time.perf_counter() - start
    cells = cell_seconds(runs, labels, species, weights, reps)
    loops = loop_ratios(runs, labels, species, weights[:args.loop_resamples], reps, warmup)
    size = f"{args.resamples} resamples x {args.runs} runs x {args.n:,} scores ({args.subjects} subjects)"
    cell_loop = args.resamples * args.runs  # the pad.py loop over the whole cell, from its time per resample
    rows = [(name, cells[name].fmt(2), "met" if cells[name].median <= GOAL_SECONDS else "missed",
             loop["loop_s_per_resample"].fmt(2, 1e3), f"{loop['loop_s_per_resample'].median * cell_loop:.3g}",
             loop["ratio"].fmt(0))
            for name, loop in loops.items()]
    rows.append((ALL, cells[ALL].fmt(2), "met" if cells[ALL].median <= GOAL_SECONDS else "missed", "", "", ""))
    table = md_table(["metric", f"vectorised s, {size}", f"goal <= {GOAL_SECONDS:g} s",
                      "pad.py loop ms / resample", "pad.py loop s, same cell (extrapolated)",
                      f"loop / vectorised, timed on {args.loop_resamples} resamples of one run"], rows)
    note = (f"group_weights ({args.resamples} x {args.n:,}): {draw_s:.3f} s. Median [IQR] over {reps} repetitions; "
            "numpy's BLAS may use both cores for the matrix products.")
    return {"cells": cells, "loops": loops, "draw_s": draw_s,
            "text": emit("Bootstrap resamples (pad_core/metrics/resample.py)", machine(), [table, note],
                         {"cells": cells, "loops": loops, "draw_s": draw_s}, args.json)}


if __name__ == "__main__":
    main()
