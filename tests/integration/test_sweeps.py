"""End to end on the real stack: Tune trials -> Ray Train -> MLflow child runs -> table rebuilt from MLflow."""

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from pad_core.ablation.render import CI_STATS, FALLBACK
from tests.integration.conftest import ROOT, run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
SWEEPS = sorted(p.name for p in (ROOT / "sweeps").glob("*.py") if not p.name.startswith("_"))
# hpo.py is search-only, and mask_rates.py --smoke-test has its own, fuller test below.
GRIDS = [s for s in SWEEPS if s not in ("hpo.py", "mask_rates.py")]


def children(client: MlflowClient, sweep: str):
    exp = client.get_experiment_by_name("padsweep")
    parent = client.search_runs([exp.experiment_id], f"tags.`pad.sweep` = '{sweep}' and tags.`pad.kind` = "
                                                     "'sweep-parent'")
    assert len(parent) == 1, f"expected one parent run for {sweep}"
    return parent[0], client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent[0].info.run_id}'")


def test_sweep_lists_cover_every_file():
    assert set(GRIDS) | {"hpo.py", "mask_rates.py"} == set(SWEEPS)


@pytest.fixture(scope="module")
def in_process(stack):
    """Run sweep files inside this process, as ``python sweeps/<file>`` would (``__main__``, argv, env), so the
    17 smoke runs share one interpreter and one Ray connection instead of paying ~8 s of start-up each."""
    import ray

    def run(monkeypatch, capsys, file: str, *args: str) -> str:
        for k, v in stack["env"].items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(sys, "argv", [str(ROOT / "sweeps" / file), *args])
        monkeypatch.syspath_prepend(str(ROOT))
        runpy.run_path(str(ROOT / "sweeps" / file), run_name="__main__")
        return capsys.readouterr().out

    yield run
    ray.shutdown()  # before the stack stops the head this process is connected to


@pytest.mark.parametrize("sweep_file", GRIDS)
def test_every_sweep_file_runs_its_smoke_test(stack, in_process, sweep_file, monkeypatch, capsys):
    name = f"smoke-{Path(sweep_file).stem}"
    out = in_process(monkeypatch, capsys, sweep_file, "--smoke-test", "--sweep-name", name)
    _, runs = children(MlflowClient(stack["mlflow"]), name)
    assert runs and all(r.info.status == "FINISHED" and r.data.tags["pad.outcome"] == "completed" for r in runs)
    assert CI_STATS in out and FALLBACK not in out  # every fresh run logged scores that reproduce its metrics
    if sweep_file == "moae_grid.py":  # the paper's layout: ACER as experts x heads, next to the paper's numbers
        assert "num_experts (rows) x heads (columns)" in out and "the paper's numbers" in out


def expected_mean(runs, row: str, metric: str) -> str:
    values = [100 * r.data.metrics[f"test/p1/{metric}"] for r in runs if r.data.tags["pad.row"] == row]
    return f"{np.mean(values):.2f} ["  # then its bootstrap interval


def test_mask_rates_cells_table_and_resume(stack):
    name = "it-mask-rates"
    first = run_sweep(stack, "mask_rates.py", "--smoke-test", "--seeds", "0,1", "--no-reuse", "--sweep-name",
                      name).stdout  # trained here: the smoke sweeps above hold cells of the same identity
    client = MlflowClient(stack["mlflow"])
    parent, runs = children(client, name)
    cells = {(r.data.tags["pad.row"], r.data.tags["pad.protocol"], r.data.tags["pad.seed"]) for r in runs}
    assert cells == {(row, "P1", seed) for row in ("clip", "rate1") for seed in ("0", "1")} and len(runs) == 4
    for r in runs:
        assert r.info.status == "FINISHED" and r.data.tags["pad.outcome"] == "completed"
        assert r.info.run_name == f"{r.data.tags['pad.row']}·P1·s{r.data.tags['pad.seed']}"
        assert {"pad.config_hash", "pad.sweep", "pad.stage", "pad.threshold_policy"} <= set(r.data.tags)
        assert r.data.params["moe.soft.mask_rates"] == ("0.0,0.1,0.1,0.1" if r.data.tags["pad.row"] == "rate1" else "")
        history = client.get_metric_history(r.info.run_id, "dev/p1/eer")
        assert sorted({m.step for m in history}) == [3, 6]
    # the table printed by the sweep is the one rebuilt from MLflow, and matches the runs' own metrics
    for row, label in (("clip", "vanilla CLIP"), ("rate1", "Rate 1 (0, .1, .1, .1)")):
        line = next(ln for ln in first.splitlines() if ln.startswith(f"| {label} |"))
        cells = [c.strip("*↑↓ |") for c in line.split(" | ")]  # minus bold (best) and arrows (vs baseline)
        assert cells[1].startswith(expected_mean(runs, row, "acer"))
        assert cells[4].startswith(expected_mean(runs, row, "eer"))
    rebuilt = subprocess.run([sys.executable, "-m", "pad_core", "table", "--sweep", name], env=stack["env"],
                             capture_output=True, text=True, check=True).stdout
    table = "\n".join(ln for ln in rebuilt.splitlines() if not ln.startswith("[padsweep]"))  # minus progress lines
    assert table.strip() in first
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"table.md", "table.csv"} <= artifacts
    # the same command again: every cell is found finished in MLflow, nothing runs, nothing is duplicated
    again = run_sweep(stack, "mask_rates.py", "--smoke-test", "--seeds", "0,1", "--no-reuse", "--sweep-name",
                      name).stdout
    assert "4 cells, 4 already finished in MLflow, 0 to run" in again
    assert len(children(client, name)[1]) == 4
    # changing the declared seeds needs an explicit flag
    proc = subprocess.run([sys.executable, str(ROOT / "sweeps/mask_rates.py"), "--smoke-test", "--seeds", "0,1,2",
                           "--sweep-name", name], env=stack["env"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--allow-spec-change" in proc.stderr


def test_hpo_smoke_multi_objective_with_conditional_space(stack):
    """sweeps/hpo.py --smoke-test over the MoE-kind space with dev EER and step time as objectives: every search
    run reports both, each kind's own parameter is drawn only for that kind, the top-1 is confirmed on seed 100."""
    name = "it-hpo"
    out = run_sweep(stack, "hpo.py", "--smoke-test", "--space", "moe", "--also", "step_seconds:min",
                    "--sweep-name", name).stdout
    import json

    client = MlflowClient(stack["mlflow"])
    parent, search_runs = children(client, f"{name}-moe")
    assert len(search_runs) == 4
    for r in search_runs:
        assert {"dev/p1/eer", "train/p1/step_seconds"} <= set(r.data.metrics)
        kind = r.data.tags["axis.moe.kind"]
        assert ("axis.moe.sue.top_k" in r.data.tags) == (kind == "sue")
        assert ("axis.moe.moae.heads" in r.data.tags) == (kind == "moae")
        assert json.loads(r.data.tags["pad.draws"])["moe.kind"] == kind  # what the report replays
    # what the search learned, on its parent run: history per trial, importance (or why not), the Pareto front
    report = {a.path for a in client.list_artifacts(parent.info.run_id, "search_report")}
    assert report == {f"search_report/{f}" for f in ("history.csv", "history.png", "importance.csv",
                                                     "importance.png", "pareto.csv", "pareto.png", "summary.md")}
    steps = [m.step for m in client.get_metric_history(parent.info.run_id, "search/p1/best_eer")]
    assert steps == [0, 1, 2, 3] and "[padsweep] search report (" in out
    # the confirmation grid: the search's base config as the baseline row, then the top-1, on seed 100
    _, confirm = children(client, f"{name}-moe-confirm")
    assert sorted(r.data.tags["pad.row"] for r in confirm) == ["base", "top1"]
    assert {r.data.tags["pad.seed"] for r in confirm} == {"100"}
    assert "| base (the search's starting config) |" in out, out[-3000:]
    assert "Best configurations:" in out and "HPO of moe: top-1 confirmed" in out, out[-3000:]


def test_hpo_with_synchronous_halving_keeps_the_rungs_best_and_resumes_them(stack):
    """--scheduler sha: all 4 search trials pause at the rung (step 3 of 6), the best 2 by dev EER there resume
    from their checkpoints and finish, the other 2 end early_stopped; no step is trained or logged twice."""
    name = "it-hpo-sha"
    run_sweep(stack, "hpo.py", "--smoke-test", "--space", "mmoe", "--scheduler", "sha", "--grace-period", "1",
              "--reduction-factor", "2", "--sweep-name", name)
    client = MlflowClient(stack["mlflow"])
    _, runs = children(client, f"{name}-mmoe")
    assert len(runs) == 4
    at_rung = {r.info.run_id: [(m.step, m.value) for m in client.get_metric_history(r.info.run_id, "dev/p1/eer")]
               for r in runs}
    outcome = {r.info.run_id: r.data.tags["pad.outcome"] for r in runs}
    assert sorted(outcome.values()) == ["completed", "completed", "early_stopped", "early_stopped"]
    for run_id, history in at_rung.items():  # completed: evaluations at 3 and 6 (the final report has other keys)
        assert [s for s, _ in history] == ([3, 6] if outcome[run_id] == "completed" else [3])
    ranked = sorted(at_rung, key=lambda run_id: at_rung[run_id][0][1])
    assert {outcome[run_id] for run_id in ranked[:2]} == {"completed"}


def test_two_worker_ddp_trials(stack):
    """Each trial trains with 2 Ray Train workers (DDP over gloo): reports stay collective, eval scores are
    gathered from both ranks (the test count is the whole split, not one shard)."""
    name = "it-ddp"
    run_sweep(stack, "mask_rates.py", "--smoke-test", "--workers-per-trial", "2", "--no-reuse", "--sweep-name", name)
    _, runs = children(MlflowClient(stack["mlflow"]), name)
    assert len(runs) == 2 and all(r.data.tags["pad.outcome"] == "completed" for r in runs)
    from pad_core.config import from_flat
    from pad_core.data import prepare

    n_test = len(prepare(from_flat(runs[0].data.params).data).test)
    assert all(r.data.metrics["test/p1/n"] == n_test for r in runs)


def test_gpus_per_trial_above_the_cluster_are_refused_before_mlflow_is_touched(stack):
    """The stack has 2 CPUs and no GPU: asking for one per trial fails with the need and what the cluster has,
    before any MLflow run is created."""
    cmd = [sys.executable, str(ROOT / "sweeps/mask_rates.py"), "--smoke-test", "--gpus-per-trial", "1",
           "--sweep-name", "it-gpu-over-ask"]
    proc = subprocess.run(cmd, cwd=ROOT, env=stack["env"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "1 GPUs" in proc.stderr and "more than the cluster has" in proc.stderr
    assert "--gpus-per-trial" in proc.stderr  # the fix
    client = MlflowClient(stack["mlflow"])
    experiment = client.get_experiment_by_name("padsweep")
    found = client.search_runs([experiment.experiment_id], "tags.`pad.sweep` = 'it-gpu-over-ask'") if experiment else []
    assert not found
