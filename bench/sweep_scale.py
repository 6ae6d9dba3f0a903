"""Sweep scale: the driver's cost per cell of an N-cell sweep of near-empty trials, N = 100, 300, 1000.

The real ``run_grid`` runs on a real local Ray head (2 CPUs, 2 concurrent trials of one CPU each) and a real MLflow
server (SQLite). Every trial is the real ``train_driver``: it claims its cell (lease.py), creates its MLflow child run
with tags and params, and the driver's ``FinalizeRuns`` callback ends it; the table is rebuilt from MLflow at the end.
Only the training itself is replaced, inside the trial processes (``bench_driver``), by a benchmark-only stand-in
that does a trial's MLflow work without a model: one evaluation report and the final report through the trial's own
``RunLogger`` (the metrics a smoke cell logs), a ``scores.csv`` artifact, and both reports to Tune. A real smoke
training (tiny CLIP, 1 step) costs 2-4 s of CPU a cell, which at N = 1000 on 2 shared cores would be most of an hour
and would only be subtracted again: what is measured here is what the sweep adds around a cell.

Measured per N, in one driver process:
- wall time split: preflight (data manifests, validation, audit, identities, plans), MLflow bookkeeping before Tune
  (lease, parent run, finished/reusable cells), Tune (``fit``: scheduling, trial starts, the trials), the table;
- Tune's experiment-state saves: count, seconds, size of the state file (``TuneController.save_to_dir`` timed);
- MLflow requests at the server (its access log): per cell, by endpoint, and errors (HTTP >= 400);
- driver RSS (psutil, sampled every 0.2 s): at the start, peak, and peak minus start;
- trial work: each trial's wall time inside ``train_driver`` (written by the trial processes).
Driver overhead per cell = (sweep wall - trial work / concurrency) / N: the wall time the sweep takes beyond what
its trials, 2 at a time, spend themselves.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import base_parser, emit, machine, md_table  # noqa: E402
from pad_core.integrations.services.base import LOOPBACK_RAY  # noqa: E402

os.environ.update(LOOPBACK_RAY)  # before Ray is imported: the local head and this driver on loopback
TRIAL_TIMES = "PADSWEEP_BENCH_TRIAL_TIMES"  # folder the trial processes write their wall times into
ACCESS = re.compile(r'"(GET|POST|PATCH|DELETE|PUT) (/[^ ?"]*)[^"]*" (\d{3})')
ARTIFACT = re.compile(r"artifacts/\d+/\w+/artifacts/.*")
STAGES = ("manifest_digests", "preflight", "connect", "cells_to_train", "fit", "publish_table")


def stand_in_training(config) -> None:
    """A trial's MLflow work without the training (benchmark only): reports through the trial's RunLogger, an
    artifact, and the reports to Tune, as ``train_in_trial`` does for a 1-step smoke cell."""
    from ray import tune

    from pad_core.integrations.run_logger import RunLogger
    from pad_core.metrics.report import tune_result

    logger = RunLogger(config.tracking_uri, config.run_id, max_outage_s=config.tracking_outage_s,
                       fresh=config.fresh_run)
    scores = {f"dev/{p}/{m}": 0.25 for p in ("P1",) for m in ("acer", "apcer", "bpcer", "eer", "auc", "hter")}
    evaluation = {"step": 1, "train/loss": 0.69, "train/lr": 1e-3, **scores}
    final = {"step": 1, "final": 1.0, **{f"test/P1/{m}": 0.25 for m in ("acer", "apcer", "bpcer", "eer", "auc")},
             **{k.replace("dev/", "dev_best/"): v for k, v in scores.items()}}
    for metrics in (evaluation, final):
        logger.log(metrics, 1)
        tune.report(tune_result(metrics))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scores.csv"
        rows = [f"f{i}.png,{split},dev0,{'live' if i % 2 else 'print'},{i % 2},v{i // 4},s{i // 8},{split},"
                f"{(i * 37 % 64) / 64:.3f}" for split in ("dev", "test") for i in range(64)]
        path.write_text("path,subset,device,attack_type,label,video,subject,split,score\n" + "\n".join(rows) + "\n")
        logger.artifact(str(path))
    logger.drain()


def bench_driver(config: dict) -> None:
    """The trial function Tune runs here: the real ``train_driver`` (claim, child run, release), with the training
    replaced by the stand-in in this trial process; writes its trial id, start and end into
    $PADSWEEP_BENCH_TRIAL_TIMES. Defined in the script, so Ray ships it by value; pad_core is imported when the trial
    runs, as for the real one."""
    from ray import tune

    import pad_core.integrations.trial as trial

    trial.train_in_trial = stand_in_training
    started = time.time()
    try:
        return trial.train_driver(config)
    finally:  # one line per trial, in this process's order
        with open(Path(os.environ[TRIAL_TIMES]) / f"{os.getpid()}.txt", "a") as out:
            out.write(f"{tune.get_context().get_trial_id()} {started:.4f} {time.time():.4f}\n")


def bench_trainable(res):
    """``sweep.driver_trainable`` with ``bench_driver`` in place of ``train_driver`` (same resources, same settings)."""
    from ray import tune

    from pad_core.integrations.cluster import DRIVER_RESOURCE

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    return tune.with_resources(bench_driver, res.trial_resources(DRIVER_RESOURCE))


class Stopwatch:
    """Seconds spent in named functions of the sweep module and in Tune's experiment-state saves."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)
        self.ended: dict[str, tuple[float, float]] = {}

    def wrap(self, owner, name: str, label: str | None = None):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label or name] += time.perf_counter() - started
                self.calls[label or name] += 1

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)

    def mark_end(self, owner, name: str):
        """Record (enter, leave) wall clock per Tune trial id of a callback ``name(self, iteration, trials, trial)``."""
        original = getattr(owner, name)

        def marked(callback, iteration, trials, trial, **info):
            enter = time.time()
            try:
                return original(callback, iteration, trials, trial, **info)
            finally:
                self.ended[trial.trial_id] = (enter, time.time())

        setattr(owner, name, marked)
        return lambda: setattr(owner, name, original)


def max_overlap(lines: dict[str, list[list[str]]]) -> int:
    """The most trials that ran at one moment (their train_driver calls overlapping)."""
    events = sorted((float(t), d) for runs in lines.values() for _, a, b in runs for t, d in ((a, 1), (b, -1)))
    most = now = 0
    for _, d in events:
        now += d
        most = max(most, now)
    return most


def trial_gaps(lines: dict[str, list[list[str]]], ended: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Medians over trials, in seconds: a trial's end in its process -> the driver's callback for it (result
    delivery), the callback itself, the callback's end -> the next trial starting in that process (actor reset and
    start)."""
    import statistics

    deliver, callback, restart = [], [], []
    for runs in lines.values():
        for (trial, _, end), nxt in zip(runs, runs[1:] + [None]):
            if trial not in ended:
                continue
            enter, leave = ended[trial]
            deliver.append(enter - float(end))
            callback.append(leave - enter)
            if nxt is not None:
                restart.append(float(nxt[1]) - leave)
    med = lambda xs: statistics.median(xs) if xs else 0.0  # noqa: E731
    return {"result_to_driver": med(deliver), "driver_callback": med(callback), "to_next_start": med(restart)}


class RssSampler(threading.Thread):
    def __init__(self, period: float = 0.2) -> None:
        import psutil

        super().__init__(daemon=True)
        self.proc, self.period, self.peak, self.done = psutil.Process(), period, 0, threading.Event()
        self.start_rss = self.proc.memory_info().rss

    def run(self) -> None:
        while not self.done.wait(self.period):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def base_config() -> dict:
    from pad_core.config import scale_overrides

    return {**scale_overrides("smoke"), "moe.kind": "none", "train.steps": 1, "train.eval_every": 1,
            "optim.warmup_steps": 0, "data.protocol": "P1"}


def access_counts(log: Path, offset: int) -> tuple[collections.Counter, int, int]:
    """(requests by endpoint, errors, new offset) from the MLflow server's access log, after ``offset`` bytes."""
    with open(log, "rb") as src:
        src.seek(offset)
        text = src.read().decode(errors="replace")
        end = src.tell()
    counts, errors = collections.Counter(), 0
    for method, path, status in ACCESS.findall(text):
        counts[f"{method} {ARTIFACT.sub('artifacts/…', path)}"] += 1  # one line per endpoint, not per run
        errors += int(status) >= 400
    return counts, errors, end


def one_sweep(n: int, root: Path, mlflow_svc, ray_address: str) -> dict:
    import ray.tune.execution.tune_controller as controller

    import pad_core.integrations.sweep as sweep
    from pad_core.ablation import AblationSpec, Row
    from pad_core.integrations.callbacks import FinalizeRuns
    from pad_core.integrations.options import Resources
    from pad_core.provenance import code_version

    times = Path(os.environ[TRIAL_TIMES])  # fixed when Ray joined (the trial processes' env); emptied per sweep
    for old in times.glob("*.txt"):
        old.unlink()
    spec = AblationSpec(name=f"scale-{n}-{time.time_ns()}", title="sweep scale", rows=(Row("clip", "CLIP", {}),),
                        protocols=("P1",), seeds=tuple(range(n)), base=base_config())
    opts = sweep.SweepOptions(tracking_uri=mlflow_svc.url, experiment=f"scale-{n}", storage_path=str(root / "tune"),
                              resources=Resources(cpus_per_worker=1.0), max_concurrent=2, ray_address=ray_address,
                              reuse=False)
    code_version.cache_clear()  # hashed afresh per sweep, as a new driver would: this process outlives edits
    watch = Stopwatch()
    undo = [watch.wrap(sweep, name) for name in STAGES]
    undo.append(watch.wrap(controller.TuneController, "save_to_dir", "tune_state_save"))
    real_trainable, sweep.driver_trainable = sweep.driver_trainable, bench_trainable
    undo.append(lambda: setattr(sweep, "driver_trainable", real_trainable))
    undo.append(watch.wrap(FinalizeRuns, "on_trial_complete", "finalize_callback"))
    undo.append(watch.mark_end(FinalizeRuns, "on_trial_complete"))
    offset = Path(mlflow_svc.log).stat().st_size
    rss = RssSampler()
    rss.start()
    started, started_at = time.perf_counter(), time.time()
    try:
        sweep.run_grid(spec, opts)
    finally:
        wall = time.perf_counter() - started
        rss.stop()
        for restore in reversed(undo):  # the last wrapper first: each restores what it found
            restore()
    requests, errors, _ = access_counts(Path(mlflow_svc.log), offset)
    lines = {f.stem: [ln.split() for ln in f.read_text().splitlines()] for f in times.glob("*.txt")}
    trial_s = [float(end) - float(start) for runs in lines.values() for _, start, end in runs]
    gaps = trial_gaps(lines, watch.ended)
    state = sorted((root / "tune" / spec.name).glob("experiment_state*.json"))
    return {"n": n, "wall_s": wall, "stages_s": dict(watch.seconds), "state_saves": watch.calls["tune_state_save"],
            "state_bytes": state[-1].stat().st_size if state else 0, "trials": len(trial_s),
            "trial_work_s": sum(trial_s), "trial_processes": len(lines), "max_overlap": max_overlap(lines),
            "first_start_s": min((float(r[1]) for runs in lines.values() for r in runs), default=started_at)
            - started_at,
            "gaps_s": gaps, "requests": dict(requests), "request_errors": errors,
            "rss_start_mb": rss.start_rss / 2**20, "rss_peak_mb": rss.peak / 2**20}


def overhead_per_cell(r: dict, concurrency: int = 2) -> float:
    return (r["wall_s"] - r["trial_work_s"] / concurrency) / r["n"]


def report_rows(results: list[dict]) -> tuple[list, list, list]:
    times, tune_rows, mlflow_rows = [], [], []
    for r in results:
        s, n = r["stages_s"], r["n"]
        pre = s.get("manifest_digests", 0) + s.get("preflight", 0)
        times.append([n, f"{r['wall_s']:.1f}", f"{pre:.1f}", f"{s.get('cells_to_train', 0):.1f}",
                      f"{s.get('fit', 0):.1f}", f"{s.get('publish_table', 0):.1f}", f"{r['trial_work_s'] / n:.2f}",
                      f"{overhead_per_cell(r):.3f}"])
        tune_rows.append([n, r["state_saves"], f"{s.get('tune_state_save', 0):.2f}",
                          f"{r['state_bytes'] / 2**20:.2f}", f"{r['rss_start_mb']:.0f}", f"{r['rss_peak_mb']:.0f}",
                          f"{r['rss_peak_mb'] - r['rss_start_mb']:.0f}"])
        total = sum(r["requests"].values())
        top = sorted(r["requests"].items(), key=lambda kv: -kv[1])[:4]
        mlflow_rows.append([n, total, f"{total / n:.1f}", r["request_errors"],
                            "; ".join(f"{k.split('/mlflow/')[-1]} {v / n:.1f}" for k, v in top)])
    return times, tune_rows, mlflow_rows


def main(argv: list[str] | None = None) -> str:
    parser = base_parser(__doc__)
    parser.add_argument("--cells", default="100,300,1000", help="comma-separated sweep sizes N")
    args = parser.parse_args(argv)
    sizes = [10] if args.quick else [int(n) for n in args.cells.split(",")]
    import ray

    from pad_core.integrations import services
    from pad_core.integrations.cluster import forwarded_env

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ[TRIAL_TIMES] = str(root / "trial-times")
        (root / "trial-times").mkdir()
        mlflow_svc = services.start_mlflow(root / "mlflow")
        ray_svc = services.start_ray_head(root / "ray", num_cpus=2)
        try:  # joined here so that the trial processes get $PADSWEEP_BENCH_TRIAL_TIMES (run_grid's connect() finds it)
            ray.init(address=ray_svc.url, log_to_driver=False, runtime_env={"env_vars": forwarded_env()})
            for n in sizes:
                results.append(one_sweep(n, root, mlflow_svc, ray_svc.url))
                print(json.dumps(results[-1]), flush=True)
        finally:
            ray.shutdown()
            services.stop(ray_svc)
            services.stop(mlflow_svc)
    times, tune_rows, mlflow_rows = report_rows(results)
    sections = [
        md_table(["cells N", "wall s", "preflight s", "MLflow before Tune s", "Tune fit s", "table s",
                  "trial work s / cell", "driver overhead s / cell"], times),
        md_table(["cells N", "Tune state saves", "save s (total)", "state file MiB", "driver RSS start MiB",
                  "peak MiB", "growth MiB"], tune_rows),
        md_table(["cells N", "MLflow requests", "per cell", "errors (HTTP ≥ 400)", "most frequent, per cell"],
                 mlflow_rows),
    ]
    return emit("Sweep scale", machine(), sections, {"results": results}, args.json)


if __name__ == "__main__":
    main()
