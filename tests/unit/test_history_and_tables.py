"""Integrity of what MLflow records and what tables read from it (issue 16, causes 6-8), on real SQLite stores:
one value per metric key and step (a real tiny training run through the worker's report hooks, a resent final
report, the Tune callback's catch-up), a reused run's whole history, read-only table commands that create
nothing, tables that refuse mixed data versions and count missing, failed and deleted cells."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from pad_core.ablation import AblationSpec, Row
from pad_core.config import from_flat, scale_overrides
from pad_core.engine import RunContext, TrainingRun
from pad_core.errors import SweepError
from pad_core.integrations.callbacks import FinalizeRuns
from pad_core.integrations.history import metric_history
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.options import LoopConfig
from pad_core.integrations.publish import rebuild_table
from pad_core.integrations.run_logger import RunLogger
from pad_core.integrations.train_worker import make_hooks
from pad_core.metrics.report import metric_key
from pad_core.models.variants import VARIANTS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def repeated_steps(client: MlflowClient, run_id: str) -> dict[tuple[str, int], int]:
    """(key, step) -> entries, for every key and step logged more than once."""
    counts = Counter((m.key, m.step) for m in metric_history(client, run_id))
    return {k: n for k, n in counts.items() if n > 1}


@pytest.fixture()
def record(tmp_path):
    return SweepRecord(f"sqlite:///{tmp_path / 'mlflow.db'}", "e")


def new_child(record: SweepRecord, sweep: str = "s", key: str = "clip|P1|0") -> tuple[str, str]:
    parent = record.parent(sweep, {})
    return parent, record.child(parent, key, "clip·P1·s0", {}, {}).run_id


def train_through_hooks(record: SweepRecord, run_id: str, tmp_path, tune_results: list) -> None:
    """One smoke-scale run reporting through the worker's hooks (as in a Tune trial): MLflow gets each report once
    its checkpoint is "persisted" (here: dropped), Tune gets every result."""
    config = LoopConfig(flat={}, tracking_uri=record.tracking_uri, run_id=run_id, storage_path="", sweep="", key="",
                        tracking_outage_s=60.0)
    hooks = make_hooks(config, 0, ray_report=tune_results.append,
                       persist=lambda staged, step: shutil.rmtree(staged), settle=lambda: None)
    cfg = from_flat({**scale_overrides("smoke"), **VARIANTS.get("mmoe"), "train.steps": 6, "train.eval_every": 3})
    TrainingRun(cfg, RunContext(report=hooks.report, settle=hooks.settle, save_artifact=hooks.save_artifact,
                                workdir=str(tmp_path / "work"))).fit()
    hooks.logger.drain(poll_s=0)


def test_a_trained_run_logs_one_value_per_key_and_step_and_tune_still_sees_its_objective(record, tmp_path,
                                                                                          one_thread):
    parent, run_id = new_child(record)
    tune_results: list[dict] = []
    train_through_hooks(record, run_id, tmp_path, tune_results)
    client = record.client
    assert repeated_steps(client, run_id) == {}
    assert [m.step for m in client.get_metric_history(run_id, "dev/p1/eer")] == [3, 6]  # the curve, once a step
    final = client.get_run(run_id).data.metrics
    assert {"dev/p1/selected_eer", "dev/p1/selected_apcer_print", "train/p1/mean_step_seconds",
            "test/p1/acer"} <= set(final)
    # Tune requires its scheduler's and searcher's metric in every result; the final one is the selected score
    assert all({"dev/p1/eer", "train/p1/step_seconds"} <= set(r) for r in tune_results)
    assert tune_results[-1]["dev/p1/eer"] == final["dev/p1/selected_eer"]
    assert tune_results[-1]["train/p1/step_seconds"] == final["train/p1/mean_step_seconds"]

    # a retried trial scores the end again (no checkpoint holds the final report): logged once all the same
    RunLogger(record.tracking_uri, run_id).log({k: v + 0.5 for k, v in tune_results[-1].items()
                                                if k.startswith("test/")} | {"final": 1.0}, step=6)
    # the Tune callback logs a stopped trial's last result only where the worker has not: by key and step
    last_eval = {**tune_results[-2], "dev/p1/late_key": 0.25}
    FinalizeRuns(record.tracking_uri, "e").keep_last_result(run_id, last_eval)
    assert repeated_steps(client, run_id) == {}
    assert [m.step for m in client.get_metric_history(run_id, "dev/p1/late_key")] == [6]

    # a cell reused by another sweep carries the same charts: every key, step, timestamp and value
    reused = record.reuse(record.parent("other", {}), "clip|P1|0", "clip·P1·s0", {}, client.get_run(run_id))
    assert sorted(map(entry, metric_history(client, reused))) == sorted(map(entry, metric_history(client, run_id)))


def test_a_final_report_resent_by_a_retried_trial_is_logged_once(record):
    _, run_id = new_child(record)
    RunLogger(record.tracking_uri, run_id).log({"dev/p1/eer": 0.3, "step": 6}, step=6)
    for attempt in range(2):  # the trial's first attempt, then its retry: new timestamps, maybe new numbers
        time.sleep(0.01)
        RunLogger(record.tracking_uri, run_id).log({"test/p1/acer": 0.1 + attempt, "final": 1.0, "step": 6}, step=6,
                                                   tags={"pad.threshold_policy": "dev_eer"})
    assert repeated_steps(record.client, run_id) == {}
    assert record.client.get_run(run_id).data.metrics["test/p1/acer"] == 0.1  # the first report stands
    assert "step" not in record.client.get_run(run_id).data.metrics  # the step is no metric of its own


def entry(m: Metric) -> tuple:
    return m.key, m.step, m.timestamp, m.value


def test_a_reused_run_copies_the_whole_history_in_batches(record):
    _, source = new_child(record)
    start = int(time.time() * 1000)
    history = [Metric(f"dev/p1/k{k}", 0.001 * step + k, start + step, step) for k in range(3) for step in range(500)]
    for i in range(0, len(history), 1000):  # 1500 values: more than one log_batch holds
        record.client.log_batch(source, metrics=history[i:i + 1000])
    record.finalize(source, "FINISHED", "completed")
    reused = record.reuse(record.parent("other", {}), "clip|P1|0", "clip·P1·s0", {}, record.client.get_run(source))
    assert sorted(map(entry, metric_history(record.client, reused))) == sorted(map(entry, history))
    again = record.client.get_run(reused)
    assert again.data.tags["pad.reused_from"] == source and again.info.status == "FINISHED"
    # a run reused from the reused one still gets the history of the run that trained
    twice = record.reuse(record.parent("third", {}), "clip|P1|0", "clip·P1·s0", {}, again)
    assert len(metric_history(record.client, twice)) == len(history)


def test_a_search_ranks_a_finished_run_by_its_final_report_and_a_stopped_one_by_its_curve(record):
    from pad_core.ablation.search_spec import SearchSpec
    from pad_core.integrations.search_trials import run_objectives

    spec = SearchSpec("s", "t", {}, lambda trial: None, "P1", also=(("step_seconds", "min"),))
    parent = record.parent("s", {})
    done, stopped = (record.child(parent, k, k, {}, {}).run_id for k in ("a", "b"))
    curve = [Metric("dev/p1/eer", v, 0, s) for s, v in ((3, 0.2), (6, 0.3))] + [Metric("train/p1/step_seconds", v, 0, s)
                                                                               for s, v in ((3, 1.0), (6, 3.0))]
    record.client.log_batch(done, metrics=curve + [Metric("dev/p1/selected_eer", 0.3, 0, 6),  # train.select=last
                                                   Metric("train/p1/mean_step_seconds", 2.0, 0, 6)])
    record.client.log_batch(stopped, metrics=curve[:1] + curve[2:3])
    assert run_objectives(record, record.client.get_run(done), spec) == (0.3, 2.0)
    assert run_objectives(record, record.client.get_run(stopped), spec) == (0.2, 1.0)


# --- tables: data versions, missing / failed / deleted cells -------------------------------------------------

SPEC = AblationSpec(name="tbl", title="T", rows=(Row("clip", "CLIP"), Row("rate1", "Rate 1", {"optim.lr": 1e-4})),
                    protocols=("P1",), seeds=(0, 1, 2), base={**scale_overrides("smoke"), **VARIANTS.get("mmoe")})
DATA = "a" * 64


def add_run(record, parent, cell, *, data: str | None = DATA, outcome: str = "completed", acer: float = 0.1) -> str:
    tags = {"pad.row": cell.row.name, "pad.protocol": cell.protocol, "pad.seed": str(cell.seed),
            "pad.config_hash": cell.config_hash, "pad.code_version": "c1", "pad.stage": "ablation"}
    if data is not None:
        tags["pad.data_version"] = data
    run_id = record.child(parent, f"{cell.key}|{time.monotonic_ns()}", cell.run_name, tags, {}).run_id
    record.client.log_batch(run_id, metrics=[Metric(metric_key("test", "P1", m), acer, 0, 6) for m in ("acer", "eer")])
    record.finalize(run_id, "FINISHED" if outcome == "completed" else "FAILED", outcome, "NonFiniteLoss: nan")
    return run_id


def declared_sweep(record, versions: dict | None = None) -> str:
    parent = record.parent(SPEC.name, {})
    record.client.set_tag(parent, "pad.spec", SPEC.describe())
    record.client.set_tag(parent, "pad.code_version", "c1")
    if versions is not None:
        record.client.set_tag(parent, "pad.data_versions", json.dumps(versions))
    return parent


def test_runs_of_other_data_are_left_out_unless_allowed_and_the_data_version_is_shown(record):
    """After ``--allow-data-change`` the parent declares the new manifest: a cell whose only finished run is of the
    old data is missing from the table (not tabulated, not a refusal of the whole table); ``--allow-mixed-data``
    takes it in and names both versions."""
    parent = declared_sweep(record, {"/data/manifest.csv": DATA})
    cells = SPEC.cells()
    for cell in cells[1:]:
        add_run(record, parent, cell)
    add_run(record, parent, cells[0], data="b" * 64)  # trained on the manifest before it changed
    rendered, *_ = rebuild_table(record, parent)
    assert "[INCOMPLETE: 1/6 cells missing]" in rendered.markdown and "; data aaaaaaaaaaaa;" in rendered.markdown
    rendered, *_ = rebuild_table(record, parent, allow_mixed_data=True)
    assert "; data aaaaaaaaaaaa, bbbbbbbbbbbb;" in rendered.markdown and "INCOMPLETE" not in rendered.markdown


def test_runs_that_predate_data_versions_are_unrecorded_and_not_mixed_with_recorded_ones(record):
    parent = declared_sweep(record)  # an old sweep: no pad.data_versions on the parent
    cells = SPEC.cells()
    for cell in cells:
        add_run(record, parent, cell, data=None)
    rendered, *_ = rebuild_table(record, parent)
    assert "; data unrecorded;" in rendered.markdown and "INCOMPLETE" not in rendered.markdown
    add_run(record, parent, cells[0], data=DATA)  # a newer run of the same cell (supersedes): one recorded version
    with pytest.raises(SweepError, match=r"runs trained on different data .*unrecorded: 5 runs"):
        rebuild_table(record, parent)


def test_missing_failed_and_deleted_cells_are_counted_and_the_table_is_marked_incomplete(record):
    parent = declared_sweep(record, {"m": DATA})
    cells = {(c.row.name, c.seed): c for c in SPEC.cells()}
    for (row, seed), cell in cells.items():
        if (row, seed) == ("rate1", 1):
            add_run(record, parent, cell, outcome="failed")
        elif (row, seed) == ("rate1", 2):
            record.client.delete_run(add_run(record, parent, cell))  # deleted in the MLflow UI
        elif (row, seed) != ("clip", 2):  # never run
            add_run(record, parent, cell)
    rendered, *_ = rebuild_table(record, parent)
    assert rendered.markdown.startswith("**T [INCOMPLETE: 3/6 cells missing]**")
    assert ("INCOMPLETE: 3 of 6 declared cells (row × protocol × seed) have no finished run: 1 failed, 1 deleted, "
            "1 not run or not finished.") in rendered.markdown
    assert "1 deleted run of declared cells (MLflow lifecycle 'deleted') not used." in rendered.markdown
    assert rendered.frame.loc["CLIP", "P1 ACER"] == "10.00±0.00 (n=2/3)"
    assert rendered.frame.loc["Rate 1", "P1 ACER"].startswith("10.00±0.00 (n=1/3)") and "✗" in \
        rendered.frame.loc["Rate 1", "P1 ACER"]
    assert "[INCOMPLETE" in rendered.latex.splitlines()[2]  # the LaTeX caption


# --- read-only table command ---------------------------------------------------------------------------------

def pad_table(cwd, *args: str, uri: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = ROOT
    if uri:
        env["MLFLOW_TRACKING_URI"] = uri
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pad_core", "table", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    return proc, time.monotonic() - started


def experiments(uri: str) -> list[str]:
    from mlflow.entities import ViewType

    return sorted(e.name for e in MlflowClient(uri).search_experiments(view_type=ViewType.ALL))


def test_the_table_command_reads_only_and_names_what_exists(record, tmp_path):
    parent = declared_sweep(record, {"m": DATA})
    for cell in SPEC.cells():
        add_run(record, parent, cell)
    uri, cwd = record.tracking_uri, tmp_path / "cwd"
    cwd.mkdir()
    before = experiments(uri), os.path.getsize(uri[len("sqlite:///"):])
    cases = [  # (arguments, tracking URI in the environment, what the error says)
        (["--sweep", "tbl"], None, "--mlflow-uri=None: no MLflow tracking URI given (MLflow would read, and create, "
                                   "./mlflow.db in the current folder). Fix: set MLFLOW_TRACKING_URI or pass "
                                   "--mlflow-uri"),
        (["--sweep", "tbl", "--experiment", "E"], uri, "--experiment='E': no such experiment at "
                                                       f"{uri}; closest: 'e'; experiments there: 'Default', 'e'. Fix:"),
        (["--sweep", "tb1", "--experiment", "e"], uri, "--sweep='tb1': no such sweep in experiment 'e'; closest: "
                                                       "'tbl'; sweeps there: 'tbl'. Fix:"),
        (["--sweep", "tbl", "--experiment", "e", "--mlflow-uri", "sqlite:///typo.db"], None,
         f"--mlflow-uri='sqlite:///typo.db': no MLflow database at {cwd}/typo.db. Fix:"),
        (["--sweep", "tbl", "--experiment", "e", "--stage", "confirm"], uri,
         "--stage='confirm': no run of the sweep has this stage (its runs' stages: ['ablation']). Fix:"),
        (["--sweep", "tbl", "--experiment", "e", "--csv", str(tmp_path / "no" / "t.csv")], None,
         f"--csv='{tmp_path}/no/t.csv': cannot write there: folder {tmp_path}/no does not exist. Fix:"),  # before URI
    ]
    for args, env_uri, message in cases:
        proc, seconds = pad_table(cwd, *args, uri=env_uri)
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: {message}"), (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
        print(f"refused in {seconds:.1f} s: {args}")
        assert list(cwd.iterdir()) == [] and (experiments(uri), os.path.getsize(uri[len("sqlite:///"):])) == before
    proc, _ = pad_table(cwd, "--sweep", "tbl", "--experiment", "e", "--csv", "t.csv", uri=uri)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| CLIP |" in proc.stdout and [p.name for p in cwd.iterdir()] == ["t.csv"]
    assert experiments(uri) == before[0]
