"""Sweep overhead: 8 trainings through the system (Tune + the in-trial fast path + MLflow) vs. a plain loop.

The same 8 trainings (vanilla tiny CLIP at demo scale, seeds 0-7, ~30 s each on one core) run
1. one after another in a plain Python loop (``TrainingRun(cfg).fit()``, one torch thread, no Ray, no MLflow);
2. as a sweep on a real local Ray head (2 CPUs) and a real MLflow server: ``run_grid`` with 2 concurrent trials,
   each holding one CPU, each recording its run, checkpoints and scores, then the table rebuilt from MLflow.
Ratio = sweep wall time / plain-loop wall time; goal <= 0.7 (perfect 2-way parallelism would give 0.5).
Everything the sweep does counts: preflight, Ray connection, Tune, MLflow, checkpoints, the table.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import base_parser, emit, machine, md_table, setup, spread  # noqa: E402
from pad_core.integrations.services.base import LOOPBACK_RAY  # noqa: E402

os.environ.update(LOOPBACK_RAY)  # before Ray is imported: the local head and this driver on loopback


def base(steps: int) -> dict:
    from pad_core.config import scale_overrides

    demo = scale_overrides("demo")  # its warm-up is capped at the run's steps (a longer one is refused)
    return {**demo, "moe.kind": "none", "train.steps": steps, "train.eval_every": steps, "data.protocol": "P1",
            "optim.warmup_steps": min(demo["optim.warmup_steps"], steps)}


def plain_loop(flat: dict, seeds: list[int]) -> float:
    from pad_core.config import from_flat
    from pad_core.engine import TrainingRun

    started = time.perf_counter()
    for seed in seeds:
        TrainingRun(from_flat({**flat, "train.seed": seed})).fit()
    return time.perf_counter() - started


def through_the_system(flat: dict, seeds: list[int], root: Path) -> float:
    from pad_core.ablation import AblationSpec, Row
    from pad_core.integrations import services
    from pad_core.integrations.options import Resources, SweepOptions
    from pad_core.integrations.sweep import run_grid

    spec = AblationSpec(name=f"overhead-{time.time_ns()}", title="sweep overhead", rows=(Row("clip", "CLIP", {}),),
                        protocols=("P1",), seeds=tuple(seeds), base=flat)
    mlflow_svc = services.start_mlflow(root / "mlflow")
    ray_svc = services.start_ray_head(root / "ray", num_cpus=2)
    try:
        opts = SweepOptions(tracking_uri=mlflow_svc.url, storage_path=str(root / "storage"),
                            resources=Resources(cpus_per_worker=1.0), max_concurrent=2, ray_address=ray_svc.url,
                            reuse=False)
        started = time.perf_counter()
        run_grid(spec, opts)
        return time.perf_counter() - started
    finally:
        import ray

        ray.shutdown()
        services.stop(ray_svc)
        services.stop(mlflow_svc)


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__)
    parser.add_argument("--steps", type=int, default=110, help="training steps per trial (~30 s on one core)")
    parser.add_argument("--trials", type=int, default=8)
    args = parser.parse_args(argv)
    setup(args)
    steps, trials = (6, 2) if args.quick else (args.steps, args.trials)
    flat, seeds = base(steps), list(range(trials))
    plain, system = [], []
    for _ in range(args.reps or 1):
        plain.append(plain_loop(flat, seeds))
        with tempfile.TemporaryDirectory() as tmp:
            system.append(through_the_system(flat, seeds, Path(tmp)))
    ratio = spread([s / p for s, p in zip(system, plain)])
    verdict = "met" if ratio.median <= 0.7 else "missed"
    rows = [["plain loop, one after another", trials, spread(plain).fmt(1), spread(plain).median / trials],
            ["sweep: Tune + in-trial training + MLflow, 2 concurrent", trials, spread(system).fmt(1),
             spread(system).median / trials]]
    sections = [md_table(["path", "trainings", "wall s, median [IQR]", "wall s per training"], rows),
                f"Sweep ÷ plain loop: **{ratio.fmt(2)}** (n={ratio.n}); goal ≤ 0.7: **{verdict}**. "
                f"Each training: {steps} steps of the tiny CLIP at batch 32, one evaluation, on one core."]
    return emit("Sweep overhead", machine(), sections, {"plain_s": plain, "sweep_s": system, "ratio": ratio},
                args.json)


if __name__ == "__main__":
    main()
