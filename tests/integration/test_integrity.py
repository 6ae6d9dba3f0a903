"""Integrity of a sweep's record on the real stack (MLflow server, Ray head; docs/RELIABILITY.md):

- every exit of a driver ends its runs: all cells failed, Ctrl-C and SIGTERM mid-fit (exit 130/143, padsweep's
  own resume command, which then finishes the sweep), refusals of a storage or folder name that cannot work
  before the parent run exists;
- one driver per sweep: two drivers started together never both train, ``--wait`` waits in line, a dead
  driver's lease is taken over;
- a manifest changed under the same sweep name is refused unless ``--allow-data-change``;
- a deleted run's kept checkpoint is not resumed into the cell's new run (fast path and Ray Train path).
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pad_core.errors import SweepError
from pad_core.integrations.lease import Claims, holder_tags, lease_sweep
from pad_core.integrations.sweep_checks import check_folder_names
from pad_core.integrations.trial import train_run_name
from tests.integration.conftest import ROOT, run_sweep
from tests.integration.test_sweeps import children

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]


def smoke(steps: int = 6) -> list[str]:
    return ["--set", f"train.steps={steps}", "--set", "train.eval_every=3", "--set", "data.batch_size=16",
            "--set", "data.synth_scale=0.01", "--set", "data.synth_size=32", "--set", "data.num_workers=0",
            "--set", "eval.batch_size=64", "--set", "backbone.name=pad-tiny-vit", "--set", "backbone.pretrained=",
            "--set", "optim.lr=0.001", "--set", "optim.warmup_steps=2"]


def one_cell(name: str, *extra: str, rows: str = "tests.integration.fault_rows:HEALTHY", steps: int = 6) -> list[str]:
    """A one-cell smoke sweep of rows.py, trained here (never reused from another sweep)."""
    return [sys.executable, str(ROOT / "sweeps" / "rows.py"), "--rows", rows, "--base",
            "tests.integration.fault_rows:BASE", "--seeds", "0", "--protocols", "P1", "--no-reuse",
            "--sweep-name", name, *smoke(steps), *extra]


def start(cmd: list[str], stack, log) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=stack["env"], stdout=log, stderr=subprocess.STDOUT, text=True)


def wait_until(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def sweep_claims(stack, sweep: str) -> list:
    experiment = MlflowClient(stack["mlflow"]).get_experiment_by_name("padsweep").experiment_id
    return Claims(stack["mlflow"]).on({"pad.lease": "sweep", "pad.experiment": experiment, "pad.sweep": sweep})


def steps_of(client: MlflowClient, run_id: str, key: str = "dev/p1/eer") -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_two_drivers_started_together_never_both_train(stack, tmp_path):
    """Two drivers of one sweep at once: one trains, the other refuses naming the first (host, pid, how to stop
    it), before any trial; one run for the cell, each step logged once."""
    with open(tmp_path / "driver0.log", "w") as log0, open(tmp_path / "driver1.log", "w") as log1:
        t0 = time.monotonic()
        drivers = [start(one_cell("race"), stack, log) for log in (log0, log1)]
    ended = {}
    while len(ended) < 2:
        ended.update({i: time.monotonic() - t0 for i, d in enumerate(drivers) if d.poll() is not None and i not in
                      ended})
        assert time.monotonic() - t0 < 600
        time.sleep(0.2)
    outs = [(tmp_path / f"driver{i}.log").read_text() for i in range(2)]
    codes = [d.returncode for d in drivers]
    assert sorted(codes) == [0, 2], outs
    loser, winner = codes.index(2), codes.index(0)
    print(f"\n[measure] second driver refused {ended[loser]:.1f} s after both started; the first finished after "
          f"{ended[winner]:.1f} s")
    assert "already being run by another driver" in outs[loser] and f"pid {drivers[winner].pid}" in outs[loser]
    assert f"kill -INT {drivers[winner].pid}" in outs[loser] and "--wait" in outs[loser]
    assert "Traceback" not in outs[loser]
    client = MlflowClient(stack["mlflow"])
    parent, runs = children(client, "race")
    assert len(runs) == 1 and runs[0].data.tags["pad.outcome"] == "completed"
    assert steps_of(client, runs[0].info.run_id) == [3, 6]
    loss = steps_of(client, runs[0].info.run_id, next(k for k in runs[0].data.metrics if k.startswith("train/")))
    assert len(loss) == len(set(loss))
    assert not sweep_claims(stack, "race")  # released


def test_a_waiting_driver_starts_after_the_holder_and_takes_over_a_dead_claim(stack, tmp_path):
    """While this test holds the sweep's lease: a driver with --wait waits (Ctrl-C there exits 130 with the resume
    command and leaves no claim); a second one waits, and once the lease is released takes over the claim of a
    driver that died (its pid is gone) queued before it, says so, and runs the sweep."""
    client = MlflowClient(stack["mlflow"])
    experiment = client.get_experiment_by_name("padsweep") or client.get_experiment(client.create_experiment(
        "padsweep"))
    held = lease_sweep(stack["mlflow"], experiment.experiment_id, "padsweep", "waiter", wait=False, command="test")
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = start(one_cell("waiter", "--wait"), stack, out)
    wait_until(lambda: "waiting for it to end" in log.read_text(), "the first driver to wait")
    t0 = time.monotonic()
    first.send_signal(signal.SIGINT)
    assert first.wait(60) == 130, log.read_text()
    print(f"\n[measure] SIGINT to exit while waiting for the lease: {time.monotonic() - t0:.1f} s")
    assert "Resume it with:" in log.read_text() and "Traceback" not in log.read_text()
    assert [c.version for c in sweep_claims(stack, "waiter")] == [held.claim.version]
    dead = subprocess.Popen(["true"])
    dead.wait()
    subject = {"pad.lease": "sweep", "pad.experiment": experiment.experiment_id, "pad.sweep": "waiter"}
    Claims(stack["mlflow"]).add(subject, {**holder_tags(), "pad.pid": str(dead.pid), "pad.proc": "0"})
    log = tmp_path / "second.log"
    with open(log, "w") as out:
        second = start(one_cell("waiter", "--wait"), stack, out)
    wait_until(lambda: "waiting for it to end" in log.read_text(), "the second driver to wait")
    held.release()
    assert second.wait(600) == 0, log.read_text()[-3000:]
    assert f"taking over from host {os.uname().nodename}, pid {dead.pid}" in log.read_text()
    _, runs = children(client, "waiter")
    assert len(runs) == 1 and runs[0].data.tags["pad.outcome"] == "completed"
    assert not sweep_claims(stack, "waiter")


def test_cell_claims_elect_one_trial_and_take_over_dead_or_earlier_attempts(stack, monkeypatch):
    """The cell election on the real server: 6 trials claiming one cell at once (threads: one live process) elect
    exactly one, the others see its heartbeat move and yield naming it; a retry of the winning trial (same trial
    id) takes the cell over at once, and so does any trial once the holder's process is gone."""
    from concurrent.futures import ThreadPoolExecutor

    from pad_core.integrations import lease

    monkeypatch.setattr(lease, "HEARTBEAT_S", 0.5)
    uri, parent = stack["mlflow"], "parent-of-claims"
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda i: lease.claim_cell(uri, parent, "cell|P1|s0", f"trial{i}", "cell"), range(6)))
    held = [g for g in got if isinstance(g, lease.Holding)]
    assert len(held) == 1 and all(g.version == held[0].claim.version for g in got if isinstance(g, lease.Claim))
    winner = held[0].claim.tags["pad.trial"]
    retry = lease.claim_cell(uri, parent, "cell|P1|s0", winner, "cell")
    assert isinstance(retry, lease.Holding)
    dead = subprocess.Popen(["true"])
    dead.wait()
    subject = {"pad.lease": "cell", "pad.parent": parent, "pad.cell": "cell|P1|s1"}
    lease.Claims(uri).add(subject, {**holder_tags(), "pad.pid": str(dead.pid), "pad.trial": "gone"})
    after_death = lease.claim_cell(uri, parent, "cell|P1|s1", "trial-new", "cell")
    assert isinstance(after_death, lease.Holding)
    for holding in (*held, retry, after_death):
        holding.release()
    lease.drop_cell_claims(uri, parent)
    assert not lease.Claims(uri).search(f"tags.`pad.parent` = '{parent}'")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_driver_stopped_mid_fit_ends_its_runs_and_its_resume_command_finishes_the_sweep(stack, tmp_path, signum):
    """Ctrl-C (or SIGTERM) once the cell's run is RUNNING with a checkpoint: the driver exits 128+n, prints the
    sweep's own resume command (not Tune's Tuner.restore), the parent and the run end KILLED with a reason, no
    table is published and the lease is released; running the printed command finishes the sweep, the cell
    resumed in its own run (each step logged once)."""
    name = f"stopped-{signum.name}"
    client, log = MlflowClient(stack["mlflow"]), tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = start(one_cell(name, steps=60), stack, out)

    def checkpointed() -> bool:
        assert driver.poll() is None, log.read_text()[-3000:]
        try:
            _, runs = children(client, name)
        except (AssertionError, AttributeError):  # no experiment or no parent run yet
            return False
        return bool(runs) and runs[0].info.status == "RUNNING" and bool(steps_of(client, runs[0].info.run_id))

    wait_until(checkpointed, "the cell's first evaluation")
    t0 = time.monotonic()
    driver.send_signal(signum)
    assert driver.wait(120) == 128 + signum, log.read_text()[-3000:]
    print(f"\n[measure] {signum.name} to exit mid-fit: {time.monotonic() - t0:.1f} s")
    out = log.read_text()
    assert "Tuner.restore" not in out and "Traceback" not in out, out[-3000:]
    command = out.split("Resume it with:\n", 1)[1].splitlines()[0].strip()
    assert command == shlex.join(["python", *one_cell(name, steps=60)[1:]])
    parent, runs = children(client, name)
    assert parent.info.status == "KILLED" and parent.data.tags["pad.reason"].startswith("interrupted by SIG")
    assert len(runs) == 1 and runs[0].info.status == "KILLED" and "the sweep driver stopped" in \
        runs[0].data.tags["pad.reason"]
    assert "table.md" not in {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert not sweep_claims(stack, name)
    if signum != signal.SIGINT:
        return
    resumed = subprocess.run([sys.executable, *shlex.split(command)[1:]], cwd=ROOT, env=stack["env"],
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    parent, runs = children(client, name)
    assert parent.info.status == "FINISHED" and "pad.reason" not in parent.data.tags
    assert len(runs) == 1 and runs[0].data.tags["pad.outcome"] == "completed"
    steps = steps_of(client, runs[0].info.run_id)
    assert steps == list(range(3, 61, 3)), steps


def test_a_search_stopped_by_ctrl_c_ends_its_runs_and_its_resume_command_finishes_it(stack, tmp_path):
    """Search mode takes the same exits: Ctrl-C once a search trial has evaluated exits 130 with the resume command
    (no Tuner.restore hint), the search's parent and its unfinished runs end KILLED; the printed command restores
    the search, which finishes its 4 samples (no run duplicated) and its confirmation stage."""
    cmd = [sys.executable, str(ROOT / "sweeps" / "hpo.py"), "--smoke-test", "--space", "mmoe", "--sweep-name",
           "stopped-search"]
    client, log = MlflowClient(stack["mlflow"]), tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = start(cmd, stack, out)

    def evaluated() -> bool:
        assert driver.poll() is None, log.read_text()[-3000:]
        try:
            _, runs = children(client, "stopped-search-mmoe")
        except (AssertionError, AttributeError):
            return False
        return any(steps_of(client, r.info.run_id) for r in runs)

    wait_until(evaluated, "a search trial's first evaluation")
    t0 = time.monotonic()
    driver.send_signal(signal.SIGINT)
    assert driver.wait(120) == 130, log.read_text()[-3000:]
    print(f"\n[measure] SIGINT to exit mid-search: {time.monotonic() - t0:.1f} s")
    out = log.read_text()
    assert "Tuner.restore" not in out and f"Resume it with:\n  {shlex.join(['python', *cmd[1:]])}" in out
    parent, runs = children(client, "stopped-search-mmoe")
    assert parent.info.status == "KILLED" and "RUNNING" not in {r.info.status for r in runs}
    resumed = subprocess.run(cmd, cwd=ROOT, env=stack["env"], capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    parent, runs = children(client, "stopped-search-mmoe")
    assert parent.info.status == "FINISHED" and len(runs) == 4
    assert children(client, "stopped-search-mmoe-confirm")[0].info.status == "FINISHED"


def test_a_sweep_whose_cells_all_fail_ends_failed_with_their_reasons(stack):
    """Its only cell diverges (NonFiniteLoss): the driver exits 2 naming the reason; the parent ends FAILED with it
    (it stayed RUNNING for ever), nothing is left running."""
    proc = subprocess.run(one_cell("all-fail", rows="tests.integration.ddp_rows:DIVERGES"), cwd=ROOT,
                          env=stack["env"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 2 and "no cell finished" in proc.stderr and "NonFiniteLoss" in proc.stderr, \
        proc.stdout[-2000:] + proc.stderr[-2000:]
    parent, runs = children(MlflowClient(stack["mlflow"]), "all-fail")
    assert parent.info.status == "FAILED" and "NonFiniteLoss" in parent.data.tags["pad.reason"]
    assert [r.info.status for r in runs] == ["FAILED"]
    assert not sweep_claims(stack, "all-fail")


def test_storage_that_cannot_be_written_is_refused_before_the_parent_run(stack, tmp_path):
    """A storage folder that cannot be made (a path under a file; a folder name over the file system's 255 bytes)
    is refused in seconds (exit 2, the value and the fix), before any MLflow run exists; it used to fail inside Tune
    with the parent left RUNNING."""
    (tmp_path / "a-file").write_text("not a folder")
    client = MlflowClient(stack["mlflow"])
    for name, storage in (("bad-storage", tmp_path / "a-file" / "ray"), ("long-storage", tmp_path / ("x" * 300))):
        t0 = time.monotonic()
        proc = subprocess.run(one_cell(name, "--storage", str(storage)), cwd=ROOT, env=stack["env"],
                              capture_output=True, text=True, timeout=300)
        print(f"\n[measure] --storage {storage.name[:20]} refused after {time.monotonic() - t0:.1f} s")
        assert proc.returncode == 2 and "--storage=" in proc.stderr and "Fix:" in proc.stderr, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        experiment = client.get_experiment_by_name("padsweep")
        assert not experiment or not client.search_runs([experiment.experiment_id], f"tags.`pad.sweep` = '{name}'")


def test_a_ray_train_folder_name_over_255_bytes_is_refused():
    """The longest names the command line lets through (sweep and row names of 100 characters, a 16-character
    protocol, a 10-digit seed) make a Ray Train run folder of 261 bytes: refused, naming the limit and the fix."""
    sweep, key = "s" * 100, "|".join(["r" * 100, "P" * 16, "s4294967295", "a" * 12, "b" * 12])
    check_folder_names(sweep, [sweep])
    with pytest.raises(SweepError, match="would be 261 bytes long; file systems allow 255") as refused:
        check_folder_names(sweep, [sweep, train_run_name(sweep, key)])
    assert "--sweep-name of at most 94 bytes" in str(refused.value)


def synthetic_copy(folder) -> str:
    """The smoke sweep's synthetic manifest and its images, copied where the test may change them."""
    import shutil

    from pad_core.config import from_flat
    from pad_core.data import resolve_manifest_uri

    source = resolve_manifest_uri(from_flat({"data.synth_scale": 0.01, "data.synth_size": 32}).data)
    shutil.copytree(os.path.join(os.path.dirname(source), "images"), folder / "images")
    shutil.copy(source, folder / "manifest.csv")
    return str(folder / "manifest.csv")


def test_a_manifest_changed_under_the_same_sweep_is_refused_unless_allowed(stack, tmp_path):
    """The same command after the manifest's rows were reordered (same URI, other sha256): refused in seconds like
    a changed declaration, the record untouched; with --allow-data-change the cell trains again on the new data,
    its run tagged with the new data version, and the parent records the new manifest hash."""
    manifest = synthetic_copy(tmp_path)
    cmd = one_cell("data-change", "--data", manifest)
    run_sweep(stack, "rows.py", *cmd[2:])
    client = MlflowClient(stack["mlflow"])
    parent, runs = children(client, "data-change")
    old = json.loads(parent.data.tags["pad.data_versions"])[manifest]
    assert [r.data.tags["pad.data_version"] for r in runs] == [old]
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    frame.iloc[::-1].to_csv(manifest, index=False)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=stack["env"], capture_output=True, text=True, timeout=300)
    print(f"\n[measure] changed manifest refused after {time.monotonic() - t0:.1f} s")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"data='{manifest}': the manifest changed since this sweep started (sha256 {old[:12]}" in proc.stderr
    assert "--allow-data-change" in proc.stderr and "--sweep-name" in proc.stderr
    again, same = children(client, "data-change")
    assert again.info.status == "FINISHED" and again.data.tags == parent.data.tags and len(same) == 1
    run_sweep(stack, "rows.py", *cmd[2:], "--allow-data-change")
    parent, runs = children(client, "data-change")
    new = json.loads(parent.data.tags["pad.data_versions"])[manifest]
    assert new != old and sorted(r.data.tags["pad.data_version"] for r in runs) == sorted([old, new])


@pytest.mark.parametrize("path", ["in-trial", "ray-train"])
def test_a_deleted_run_is_trained_again_from_step_0_not_restored_from_its_checkpoint(stack, path):
    """--keep-checkpoints keeps the finished cell's checkpoint; the run is deleted in MLflow; the same command makes
    a new run for the cell, which trains from step 0 (full curves) instead of restoring the old run's last
    checkpoint in seconds without history, and says so (tag pad.checkpoint_discarded, log line)."""
    name = f"deleted-{path}"
    extra = ["--keep-checkpoints", *(["--always-ray-train"] if path == "ray-train" else [])]
    cmd = one_cell(name, *extra)
    run_sweep(stack, "rows.py", *cmd[2:])
    client = MlflowClient(stack["mlflow"])
    _, (first,) = children(client, name)
    client.delete_run(first.info.run_id)
    out = run_sweep(stack, "rows.py", *cmd[2:]).stdout
    _, (second,) = children(client, name)
    assert second.info.run_id != first.info.run_id and second.data.tags["pad.outcome"] == "completed"
    assert steps_of(client, second.info.run_id) == [3, 6] == steps_of(client, first.info.run_id)
    assert first.info.run_id in second.data.tags["pad.checkpoint_discarded"]
    assert "trains from step 0" in out
