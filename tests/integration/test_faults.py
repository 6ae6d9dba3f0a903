"""Faults on the real stack (docs/RELIABILITY.md): a worker that raises and a trial process that dies are
retried from the last checkpoint into the same MLflow run; a diverging loss and an exhausted time budget end
their cell FAILED with the reason, without retries, while the sweep goes on and its table marks the cells."""

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from tests.integration.conftest import ROOT, run_sweep
from tests.integration.test_sweeps import children

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
SMOKE = ["--set", "train.steps=6", "--set", "optim.warmup_steps=2", "--set", "train.eval_every=3",
         "--set", "data.batch_size=16", "--set", "data.synth_scale=0.01", "--set", "data.synth_size=32",
         "--set", "data.num_workers=0", "--set", "eval.batch_size=64", "--set", "backbone.name=pad-tiny-vit",
         "--set", "backbone.pretrained=", "--set", "optim.lr=0.001"]


def with_set(args: list[str], key: str, value: object) -> list[str]:
    """``args`` with ``--set key=...`` replaced (the command line refuses a key set twice)."""
    out = list(args)
    for i, item in enumerate(out):
        if item.startswith(f"{key}=") and i and out[i - 1] == "--set":
            out[i] = f"{key}={value}"
            return out
    return [*out, "--set", f"{key}={value}"]


ONE_CELL = ["--rows", "tests.integration.fault_rows:HEALTHY", "--base", "tests.integration.fault_rows:BASE",
            "--seeds", "0", "--protocols", "P1", *SMOKE]


@pytest.mark.parametrize("fault", ["raise", "kill"])
def test_a_failed_trial_resumes_its_own_run_from_the_last_checkpoint(stack, fault, tmp_path, stops):
    """Step 4 faults once (the checkpoint is at step 3): a raising worker (raise) or a trial process killed with
    SIGKILL (kill). The retry resumes at step 3 and finishes; one MLflow run; its dev history is the uninterrupted
    run's (evaluations at steps 3 and 6), nothing repeated; its numbers are equal."""
    env = {**stack["env"], "PADSWEEP_CHAOS": f"{fault}@4", "PADSWEEP_CHAOS_DIR": str(tmp_path)}
    client = MlflowClient(stack["mlflow"])
    out = run_sweep({**stack, "env": env}, "rows.py", *ONE_CELL, "--no-reuse", "--sweep-name", f"fault-{fault}").stdout
    assert "[padsweep] retrying" in out or fault == "kill", out[-3000:]
    assert len(list(tmp_path.iterdir())) == 1  # the fault fired exactly once
    _, runs = children(client, f"fault-{fault}")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED" and runs[0].data.tags["pad.outcome"] == "completed"
    clean = stops[1]["ok"]  # the same cell (config, seed, protocol) run without a fault: same history, numbers
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, "dev/p1/eer")]
    clean_steps = [m.step for m in client.get_metric_history(clean.info.run_id, "dev/p1/eer")]
    assert sorted(set(steps)) == [3, 6] and sorted(steps) == sorted(clean_steps), (steps, clean_steps)
    test_keys = [k for k in clean.data.metrics if k.startswith("test/p1/") and "step" not in k]
    resumed = {k: runs[0].data.metrics[k] for k in test_keys}
    assert test_keys and resumed == {k: clean.data.metrics[k] for k in test_keys}
    assert not list((stack["root"] / "ray_results" / f"fault-{fault}" / "cells").iterdir())  # finished: deleted


@pytest.fixture(scope="module")
def stops(stack):
    """(stdout, runs by row) of a sweep with a healthy row and two rows that stop deterministically."""
    name = "fault-stops"
    out = run_sweep(stack, "rows.py", "--rows", "tests.integration.fault_rows:ROWS", "--base",
                    "tests.integration.fault_rows:BASE", "--baseline", "ok", "--seeds", "0", "--protocols", "P1",
                    "--sweep-name", name, *SMOKE).stdout
    _, runs = children(MlflowClient(stack["mlflow"]), name)
    return out, {r.data.tags["pad.row"]: r for r in runs}


def test_diverging_loss_and_time_budget_stop_their_cells_and_the_sweep_goes_on(stops):
    out, by_row = stops
    assert len(by_row) == 3 and by_row["ok"].data.tags["pad.outcome"] == "completed"
    for row, reason in (("diverges", "NonFiniteLoss"), ("slow", "TimeBudgetExceeded")):
        run = by_row[row]
        assert run.info.status == "FAILED" and run.data.tags["pad.reason"].startswith(reason), run.data.tags
    assert "retrying" not in out  # deterministic stops are not retried
    lines = {ln.split(" | ")[0].strip("| "): ln for ln in out.splitlines() if ln.startswith("| ")}
    assert "✗" in lines["loss weight 1e39 (overflows float32)"] and "✗" in lines["time budget 0.012 s"]
    assert "✗" not in lines["healthy"] and "NonFiniteLoss" in out and "TimeBudgetExceeded" in out


def test_a_deterministic_stop_on_the_ddp_path_is_not_retried(stack, tmp_path):
    """Two Train workers (TorchTrainer, DDP over gloo): a diverging loss ends the Train run without a failure (the
    workers report a stop marker), so FailureConfig does not restart it: each rank starts exactly once, and the
    cell ends FAILED with the reason."""
    env = {**stack["env"], "PADSWEEP_CHAOS": "raise@999", "PADSWEEP_CHAOS_DIR": str(tmp_path)}  # counts starts only
    name = "fault-ddp-stop"
    cmd = [sys.executable, str(ROOT / "sweeps" / "rows.py"), "--rows", "tests.integration.ddp_rows:DIVERGES",
           "--base", "tests.integration.ddp_rows:BASE", "--baseline", "diverges", "--seeds", "0", "--protocols", "P1",
           "--workers-per-trial", "2", "--no-reuse", "--sweep-name", name, *SMOKE]
    # the sweep's only cell fails, so it ends with "no finished runs ... to tabulate" (exit 2): not asserted here
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    starts = {p.name: p.read_text().count("start") for p in tmp_path.glob("starts-*")}
    assert sorted(starts.values()) == [1, 1] and len(starts) == 2, (starts, out[-3000:])
    _, runs = children(MlflowClient(stack["mlflow"]), name)
    assert len(runs) == 1 and runs[0].info.status == "FAILED", out[-3000:]
    assert runs[0].data.tags["pad.reason"].startswith("NonFiniteLoss"), runs[0].data.tags
    assert "retrying" not in out


def test_a_cell_finished_in_another_sweep_is_reused_not_trained(stack, stops):
    """The healthy cell of ``fault-stops`` has the identity (config hash, protocol, seed, code version, manifest
    hash) of ONE_CELL: a new sweep links that run instead of training it, and its table
    shows the same numbers; --no-reuse is the way to train it again."""
    out = run_sweep(stack, "rows.py", *ONE_CELL, "--sweep-name", "reuser").stdout
    assert "1 cells, 1 already finished in MLflow (1 of them reused from other sweeps: same identity), 0 to run" in out
    _, runs = children(MlflowClient(stack["mlflow"]), "reuser")
    source = stops[1]["ok"]
    assert len(runs) == 1 and runs[0].data.tags["pad.reused_from"] == source.info.run_id
    assert runs[0].data.tags["pad.identity"] == source.data.tags["pad.identity"]
    assert runs[0].info.status == "FINISHED" and runs[0].data.tags["pad.outcome"] == "completed"
    assert {k: v for k, v in runs[0].data.metrics.items() if k.startswith("test/")} == \
        {k: v for k, v in source.data.metrics.items() if k.startswith("test/")}
    assert runs[0].data.tags["pad.threshold_policy"] == source.data.tags["pad.threshold_policy"]  # results too
    assert "1 run reused from other sweeps" in out


def test_a_killed_sweep_driver_resumes_with_the_same_command(stack):
    """SIGKILL the sweep driver once both cells have a checkpoint; the same command finishes the sweep: no cell
    lost or duplicated, each run resumed from its checkpoint (no step logged twice), and the table equals the
    one of the same sweep run without interruption (same seeds, same numbers)."""
    # a window to kill in after both cells' checkpoint at step 3: with 15 steps one cell could finish before the
    # other (started later on a loaded machine) had its first checkpoint (the full suite saw it once)
    longer = with_set(TWO_SEEDS, "train.steps", 30)
    client = MlflowClient(stack["mlflow"])
    cmd = [sys.executable, str(ROOT / "sweeps" / "rows.py"), *longer, "--sweep-name", "killed"]
    driver = subprocess.Popen(cmd, cwd=ROOT, env=stack["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_for(lambda: checkpointed_runs(client, "killed") == 2, driver)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    _, runs = children(client, "killed")
    assert len(runs) == 2 and all(r.info.status == "RUNNING" for r in runs)  # killed mid-training
    table = run_sweep(stack, "rows.py", *longer, "--sweep-name", "killed").stdout
    assert "2 cells, 0 already finished in MLflow, 2 to run" in table
    _, runs = children(client, "killed")
    assert len(runs) == 2 and all(r.data.tags["pad.outcome"] == "completed" for r in runs)
    for run in runs:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "dev/p1/eer")]
        assert sorted(set(steps)) == list(range(3, 31, 3)) and steps.count(3) == 1, steps
    clean = run_sweep(stack, "rows.py", *longer, "--no-reuse", "--sweep-name", "not-killed").stdout
    assert table_lines(table) == table_lines(clean)


TWO_SEEDS = ["--rows", "tests.integration.fault_rows:HEALTHY", "--base", "tests.integration.fault_rows:BASE",
             "--seeds", "0,1", "--protocols", "P1", *SMOKE]


def checkpointed_runs(client: MlflowClient, sweep: str) -> int:
    """Runs of ``sweep`` that have logged their first evaluation (logged after its checkpoint is persisted)."""
    if client.get_experiment_by_name("padsweep") is None:  # this sweep is the first: not started yet
        return 0
    try:
        _, runs = children(client, sweep)
    except AssertionError:  # the parent run does not exist yet
        return 0
    return sum(bool(client.get_metric_history(r.info.run_id, "dev/p1/eer")) for r in runs)


def wait_for(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting for the first checkpoints"
        time.sleep(0.5)


def table_lines(out: str) -> list[str]:
    """The table's rows, without the provenance footnote (run ids and compute hours differ)."""
    return [ln for ln in out.splitlines() if ln.startswith("| ")]
