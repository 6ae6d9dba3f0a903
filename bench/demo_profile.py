"""Where one demo cell's wall time goes: the parts of a ``sweeps/mask_rates.py`` cell at ``--scale demo``, as seconds
and as shares of the cell, measured in one run of the real training loop.

In process (``pad_core.engine.TrainingRun`` with the demo scale over the MMoE base, one row, P1, seed 0):
- ``data``: prepare the manifest (the cached synthetic benchmark) and build the split datasets;
- ``model``: build the model (tiny CLIP, weights from ``--pretrained`` when given, MoE layers added) and optimiser;
- ``batches``: loading the training batches (decode, augment, collate: ``data.num_workers=0`` loads in the loop);
- ``steps``: the optimiser steps (forward, backward, update) and the loop's own bookkeeping;
- ``evaluations``: every ``train.eval_every`` dev evaluation (scoring, metrics, best-weights copy);
- ``checkpoints``: checkpoint writes (``train.checkpoint_minutes`` sets how many);
- ``final``: best-weights reload, dev + test scoring, the score and routing files.
With ``--sweep``, one cell is also run as a real one-cell sweep (``--seeds 0 --protocols P1``, one row) through a
running Ray head and MLflow server (``RAY_ADDRESS`` and ``MLFLOW_TRACKING_URI`` from ``.padsweep/env``), and the
cell's wall time less the in-process parts is reported as ``trial start-up + logging`` (Tune trial, MLflow child
run, metric and artifact logging, cleanup).

    .venv/bin/python bench/demo_profile.py [--row clip|rate1|...] [--set key=value ...] [--pretrained PATH]
        [--sweep] [--json out.json]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the repo root holds pad_core/ and search_spaces/

from bench.common import base_parser, emit, machine, md_table, setup  # noqa: E402
from pad_core.config import from_flat, parse_assignments, scale_overrides  # noqa: E402
from pad_core.engine import build, loop  # noqa: E402
from search_spaces.mmoe import MASK_RATE_ROWS, MMOE_BASE  # noqa: E402

PARTS = ("data", "model", "batches", "steps", "evaluations", "checkpoints", "final")


class PartTimer:
    """Wraps TrainingRun methods so each call adds its wall time to one part (nested calls are not counted
    twice: an evaluation's checkpoint is a checkpoint, not an evaluation)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[str] = []

    def wrap(self, owner, name: str, part: str) -> None:
        original = getattr(owner, name)
        timer = self

        def timed(*args, **kwargs):
            start = time.perf_counter()
            timer._stack.append(part)
            try:
                return original(*args, **kwargs)
            finally:
                timer._stack.pop()
                spent = time.perf_counter() - start
                timer.seconds[part] += spent
                timer.calls[part] += 1
                if timer._stack:  # the enclosing part did not spend this time itself
                    timer.seconds[timer._stack[-1]] -= spent

        setattr(owner, name, timed)


def cell_config(row: str, pretrained: str, sets: list[str]):
    delta = next(r.delta for r in MASK_RATE_ROWS if r.name == row)
    flat = {**MMOE_BASE, **scale_overrides("demo"), **delta, "data.protocol": "P1", "train.seed": 0}
    if pretrained:
        flat["backbone.pretrained"] = os.path.abspath(pretrained)
    return from_flat({**flat, **parse_assignments(sets)})


def profile_in_process(cfg) -> tuple[dict[str, float], dict[str, int], float]:
    timer = PartTimer()
    timer.wrap(build, "prepare", "data")
    timer.wrap(build, "make_split_datasets", "data")
    timer.wrap(build, "create_model", "model")
    timer.wrap(build, "build_optimizer", "model")
    timer.wrap(loop.TrainingRun, "train_step", "steps")
    original_batches = loop.TrainingRun.train_batches

    def timed_batches(run):
        batches = original_batches(run)
        while True:
            start = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            finally:
                timer.seconds["batches"] += time.perf_counter() - start
                timer.calls["batches"] += 1
            yield batch

    loop.TrainingRun.train_batches = timed_batches
    timer.wrap(loop.TrainingRun, "evaluate_and_report", "evaluations")
    timer.wrap(loop.TrainingRun, "save_checkpoint", "checkpoints")
    timer.wrap(loop.TrainingRun, "final_report", "final")
    start = time.perf_counter()
    loop.train(cfg)
    total = time.perf_counter() - start
    timer.seconds["steps"] += total - sum(timer.seconds.values())  # the loop's own time between steps
    return dict(timer.seconds), dict(timer.calls), total


def sweep_cell_seconds(row: str, pretrained: str, sets: list[str]) -> tuple[float, float]:
    """(the cell's span as its MLflow child run records it, the whole one-cell sweep command's wall time) through
    the running local stack."""
    import mlflow

    name = f"demo-profile-{row}-{int(time.time())}"
    cmd = [sys.executable, str(ROOT / "sweeps" / "rows.py"), "--rows", f"bench.demo_profile:{row.upper()}_ONLY",
           "--base", "search_spaces.mmoe:MMOE_BASE", "--seeds", "0", "--protocols", "P1", "--sweep-name", name]
    if pretrained:
        cmd += ["--pretrained", os.path.abspath(pretrained)]
    for s in sets:
        cmd += ["--set", s]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    command = time.perf_counter() - started
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("padsweep")
    runs = client.search_runs([exp.experiment_id], f"tags.`pad.sweep` = '{name}' and attributes.status = 'FINISHED'")
    cells = [r for r in runs if r.data.tags.get("pad.row") == row]
    return (cells[0].info.end_time - cells[0].info.start_time) / 1000.0, command


for _row in MASK_RATE_ROWS:  # one-row lists for --sweep (rows.py takes module:ATTRIBUTE)
    globals()[f"{_row.name.upper()}_ONLY"] = (_row,)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--row", default="rate1", choices=[r.name for r in MASK_RATE_ROWS])
    parser.add_argument("--pretrained", default="", help="backbone weights file (the demo's pretrained tiny CLIP)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--sweep", action="store_true", help="also time the cell through Ray Tune + MLflow")
    args = parser.parse_args()
    setup(args)  # one torch thread, as each of the demo's two concurrent trials has one CPU
    cfg = cell_config(args.row, args.pretrained, args.set)
    seconds, calls, total = profile_in_process(cfg)
    results = {"in_process_seconds": total, "parts": seconds, "calls": calls}
    rows = [(p, calls.get(p, 0), f"{seconds.get(p, 0.0):.1f}", f"{seconds.get(p, 0.0) / total:.0%}") for p in PARTS]
    if args.sweep:
        cell, command = sweep_cell_seconds(args.row, args.pretrained, args.set)
        results.update(sweep_cell_seconds=cell, sweep_command_seconds=command)
        rows.append(("(cell as its MLflow run spans it)", "", f"{cell:.1f}", ""))
        rows = [(p, n, s, f"{float(s) / command:.0%}" if share else "") for p, n, s, share in rows]
        rows.append(("driver, preflight, trial start, logging, table", "", f"{command - total:.1f}",
                     f"{(command - total) / command:.0%}"))
        total = command
    rows.append(("one-cell sweep command" if args.sweep else "in-process run", "", f"{total:.1f}", "100%"))
    table = md_table(("part", "calls", "seconds", "share"), rows)
    title = (f"demo cell profile: row {args.row}, steps {cfg.train.steps}, eval every {cfg.train.eval_every}, "
             f"checkpoint_minutes {cfg.train.checkpoint_minutes}, pretrained {bool(cfg.backbone.pretrained)}")
    emit(title, machine(), [table], results, args.json)


if __name__ == "__main__":
    main()
