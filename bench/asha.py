"""Early stopping: does successive halving find the best of 16 configurations with <= 40 % of the grid's compute?

16 configurations (learning rates 10^-4.5 .. 10^-1.5 of the tiny CLIP at demo scale, fixed seed) are trained on
a real local Ray head, through Tune with the project's training loop (one evaluation every ``--eval-every``
steps, reported to Tune; a checkpoint per evaluation in a cell folder, as the sweeps' fast path keeps them):
1. the full grid: every configuration to the end; its final dev EER gives the known ranking;
2. each scheduler of ``--schedulers`` over the same 16, with the search mode's own scheduler objects:
   ``asha`` (Tune's asynchronous ASHA) and ``sha`` (``pad_core.integrations.halving``: synchronous successive
   halving; a paused trial resumes from its checkpoint at the rung).
Training is deterministic per configuration and seed, so every run sees the same learning curves; what differs
is how much of them a scheduler pays for. Compute = training steps run (and wall time). Goal: the scheduler's
best (among the trials it ran to the end) is the full grid's best, with <= 40 % of the grid's steps.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import base_parser, emit, machine, md_table, setup  # noqa: E402

METRIC = "dev/p1/eer"


def trainable(config: dict) -> None:
    from ray import tune

    from pad_core.config import from_flat
    from pad_core.engine import RunContext, TrainingRun
    from pad_core.integrations.cell_checkpoints import CellCheckpoints

    cells = CellCheckpoints(config["storage"], config["name"], str(config["flat"]["optim.lr"]))

    def report(*, metrics, checkpoint_dir=None, tags=None) -> None:
        if checkpoint_dir:
            cells.save(checkpoint_dir, int(metrics["step"]))
        if "final" not in metrics:  # the final report repeats the last evaluation
            tune.report({METRIC: metrics[METRIC], "step": metrics["step"]})

    with tempfile.TemporaryDirectory() as tmp:
        latest = cells.latest()  # a trial paused at a rung resumes here
        resume = cells.download(latest, tmp) if latest else None
        TrainingRun(from_flat(config["flat"]), RunContext(resume_dir=resume, report=report)).fit()


def scheduler_for(kind: str, grace: int, factor: int, steps: int, every: int, n: int):
    """(scheduler, Tune's cap on live trials) as the search mode builds them (``search.SCHEDULERS``)."""
    from pad_core.ablation.search_spec import SearchSpec
    from pad_core.config import from_flat
    from pad_core.integrations.search import SCHEDULERS

    spec = SearchSpec(name="bench", title="", base={}, space=None, protocol="P1", num_samples=n,
                      grace_period=grace, reduction_factor=factor)
    train = from_flat({"train.steps": steps, "train.eval_every": every}).train
    return SCHEDULERS[kind](spec, train, METRIC, "min", 2)


def run(flats: list[dict], steps: int, every: int, kind: str | None, stopping: tuple[int, int],
        storage: str) -> tuple[list, float]:
    """(per configuration, in ``flats`` order: (final metrics, dev curve), wall s); ``kind`` None = full grid."""
    from ray import tune

    scheduler, cap = scheduler_for(kind, *stopping, steps, every, len(flats)) if kind else (None, 2)
    name = f"{kind or 'grid'}-{time.time_ns()}"
    tuner = tune.Tuner(tune.with_resources(trainable, {"CPU": 1}),
                       param_space={"flat": tune.grid_search(flats), "storage": storage, "name": name},
                       tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=cap),
                       run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0))
    started = time.perf_counter()
    grid = tuner.fit()
    order = [f["optim.lr"] for f in flats]
    runs = sorted(grid, key=lambda r: order.index(r.config["flat"]["optim.lr"]))
    return [(r.metrics, list(r.metrics_dataframe[METRIC])) for r in runs], time.perf_counter() - started


def summarise(results: list, steps: int) -> tuple[int, int, int]:
    """(steps run, index of the best among trials run to the end, trials run to the end)."""
    done = [(m[METRIC], i) for i, (m, _) in enumerate(results) if m.get("step") == steps]
    return sum(int(m.get("step", 0)) for m, _ in results), min(done)[1], len(done)


def successive_halving(curves: list[list[float]], grace: int, factor: int) -> tuple[int, int]:
    """Replay of synchronous successive halving on the full grid's curves: (evaluations paid, the winner).
    Rungs at grace x factor^k evaluations; each keeps the best 1/factor by the metric at that rung."""
    evals, alive, paid, done, rung = len(curves[0]), list(range(len(curves))), 0, 0, grace
    while True:
        rung = min(rung, evals)
        paid += (rung - done) * len(alive)
        if rung == evals:
            return paid, min(alive, key=lambda i: curves[i][-1])
        alive = sorted(alive, key=lambda i: curves[i][rung - 1])[:max(1, -(-len(alive) // factor))]
        done, rung = rung, rung * factor


def replay_table(curves: list[list[float]], best: int) -> tuple[str, list]:
    rows = []
    for grace in (1, 2, 3):
        for factor in (2, 3, 4):
            paid, winner = successive_halving(curves, grace, factor)
            rows.append([grace, factor, f"{paid / (len(curves) * len(curves[0])):.2f}", winner == best])
    return md_table(["grace (evals)", "reduction factor", "compute ÷ grid", "finds the best"], rows), rows


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__)
    parser.add_argument("--steps", type=int, default=90)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--configs", type=int, default=16)
    parser.add_argument("--schedulers", default="asha,sha", help="comma-separated: asha, sha")
    parser.add_argument("--grace", type=int, default=2, help="grace period, in evaluations")
    parser.add_argument("--reduction-factor", type=int, default=4)
    args = parser.parse_args(argv)
    setup(args)
    steps, every, n = (6, 2, 4) if args.quick else (args.steps, args.eval_every, args.configs)
    from pad_core.config import scale_overrides

    lrs = [10 ** (-4.5 + 3.0 * i / max(1, n - 1)) for i in range(n)]
    flats = [{**scale_overrides("demo"), "moe.kind": "none", "train.steps": steps, "train.eval_every": every,
              "data.protocol": "P1", "train.seed": 0, "optim.lr": lr,
              "optim.warmup_steps": min(10, steps)} for lr in lrs]
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private local instance: no token written to ~/.ray
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    stopping = (args.grace, args.reduction_factor)
    with tempfile.TemporaryDirectory() as tmp:
        grid, grid_s = run(flats, steps, every, None, stopping, tmp)
        searches = {k: run(flats, steps, every, k, stopping, tmp) for k in args.schedulers.split(",")}
    ray.shutdown()
    g_steps, g_best, _ = summarise(grid, steps)
    final = [m for m, _ in grid]
    rows, figures = [["full grid", n, g_steps, "1", f"{grid_s:.0f}", f"lr {lrs[g_best]:.2e}",
                      f"{100 * final[g_best][METRIC]:.2f}", "—"]], {}
    for kind, (results, seconds) in searches.items():
        used, best, done = summarise(results, steps)
        share, same = used / g_steps, best == g_best
        verdict = "met" if same and share <= 0.4 else "missed"
        rows.append([kind, done, used, f"{share:.2f}", f"{seconds:.0f} ({seconds / grid_s:.2f})", f"lr {lrs[best]:.2e}",
                     f"{100 * results[best][0][METRIC]:.2f}", verdict])
        figures[kind] = {"steps": used, "share": share, "same_best": same, "wall_s": seconds}
    replay, replay_rows = replay_table([curve for _, curve in grid], g_best)
    ranking = sorted(range(n), key=lambda i: final[i][METRIC])
    sections = [md_table(["search", "trials run to the end", "steps trained", "÷ grid steps", "wall s (÷ grid)",
                          "best", "best dev EER %", "goal (same best, ≤ 0.40)"], rows),
                f"Grace {args.grace} evaluation(s), reduction factor {args.reduction_factor}, 2 concurrent trials. "
                f"Known ranking (full grid, best first): {[f'{lrs[i]:.1e}' for i in ranking[:5]]} …",
                "Replay of synchronous successive halving on the full grid's own dev curves (which settings would "
                "have found the best, and at what share of the grid's evaluations):", replay]
    return emit("Early stopping vs the full grid", machine(), sections,
                {"grid_steps": g_steps, "grid_s": grid_s, "searches": figures, "lrs": lrs, "replay": replay_rows},
                args.json)


if __name__ == "__main__":
    main()
