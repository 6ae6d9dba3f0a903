"""Read-only commands never write (issue 16, cause 8), against the real MLflow server: the experiments and runs on
the server (deleted ones included) and the files of the current folder are counted before and after each table
command, plan and runs link, with bad and good arguments; each bad one ends in a clear error, never a traceback."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.entities import Metric, ViewType
from mlflow.tracking import MlflowClient

from pad_core.ablation import AblationSpec, Row
from pad_core.config import scale_overrides
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.mlflow_ui import sweep_link
from pad_core.metrics.report import metric_key
from pad_core.models.variants import VARIANTS

pytestmark = [pytest.mark.slow, pytest.mark.mlflow]
ROOT = Path(__file__).resolve().parents[2]
SPEC = AblationSpec(name="ro-sweep", title="Read-only", rows=(Row("clip", "CLIP"), Row("lr", "lr", {"optim.lr": 1e-4})),
                    protocols=("P1",), seeds=(0, 1), base={**scale_overrides("smoke"), **VARIANTS.get("mmoe")})


@pytest.fixture(scope="module")
def server(stack):
    """The server's URI, holding experiment 'ro' with one finished sweep (written here, through SweepRecord)."""
    record = SweepRecord(stack["mlflow"], "ro")
    parent = record.parent(SPEC.name, {})
    record.client.set_tag(parent, "pad.spec", SPEC.describe())
    for cell in SPEC.cells():
        tags = {"pad.row": cell.row.name, "pad.protocol": "P1", "pad.seed": str(cell.seed),
                "pad.config_hash": cell.config_hash, "pad.stage": "ablation"}
        run_id = record.child(parent, cell.key, cell.run_name, tags, {}).run_id
        record.client.log_batch(run_id, metrics=[Metric(metric_key("test", "P1", m), 0.1 + 0.01 * cell.seed, 0, 6)
                                                 for m in SPEC.metrics])
        record.finalize(run_id, "FINISHED", "completed")
    return stack["mlflow"]


def state(uri: str, cwd: Path) -> tuple:
    """(experiments with their lifecycle, runs per experiment of every lifecycle, files in the current folder)."""
    client = MlflowClient(uri)
    found = client.search_experiments(view_type=ViewType.ALL)
    runs = {e.name: len(client.search_runs([e.experiment_id], run_view_type=ViewType.ALL, max_results=5000))
            for e in found}
    return sorted((e.name, e.lifecycle_stage) for e in found), runs, sorted(p.name for p in cwd.iterdir())


def command(cwd: Path, argv: list[str], uri: str | None) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update({"PYTHONPATH": str(ROOT), **({"MLFLOW_TRACKING_URI": uri} if uri else {})})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return proc, time.monotonic() - started


TABLE = ["-m", "pad_core", "table"]
PLAN = [str(ROOT / "sweeps" / "mask_rates.py"), "--smoke-test", "--plan", "--sweep-name", "ro-sweep"]


def cases(uri: str, tmp: Path) -> list[tuple[list[str], str | None, int, str]]:
    """(argv, MLFLOW_TRACKING_URI, exit code, what stdout/stderr says)."""
    return [
        (TABLE + ["--sweep", "ro-sweep", "--experiment", "ro"], uri, 0, "| CLIP |"),
        (TABLE + ["--sweep", "ro-sweep", "--experiment", "Ro "], uri, 2,
         "error: --experiment='Ro ': no such experiment at " + uri + "; closest: 'ro'; experiments there: "),
        (TABLE + ["--sweep", "ro-swep", "--experiment", "ro"], uri, 2,
         "error: --sweep='ro-swep': no such sweep in experiment 'ro'; closest: 'ro-sweep'; sweeps there: 'ro-sweep'"),
        (TABLE + ["--sweep", "ro'sweep", "--experiment", "ro"], uri, 2, "error: --sweep=\"ro'sweep\": no such sweep"),
        (TABLE + ["--sweep", "ro-sweep", "--experiment", "ro"], None, 2,
         "error: --mlflow-uri=None: no MLflow tracking URI given"),
        (TABLE + ["--sweep", "ro-sweep", "--experiment", "ro", "--mlflow-uri", uri + "/not-mlflow"], None, 2,
         f"='{uri}/not-mlflow': "),  # named by the server check (an HTTP server that is not MLflow)
        (TABLE + ["--sweep", "ro-sweep", "--experiment", "ro", "--mlflow-uri", "sqlite:///mlflow.db"], None, 2,
         f"error: --mlflow-uri='sqlite:///mlflow.db': no MLflow database at {tmp}/mlflow.db"),
        (TABLE + ["--sweep", "ro-sweep", "--experiment", "ro", "--csv", "/proc/t.csv"], uri, 2,
         "error: --csv='/proc/t.csv': cannot write there: folder /proc refuses new files ("),
        (TABLE + ["--sweep", "ro-sweep", "--experiment", "ro", "--stage", "confirm"], uri, 2,
         "error: --stage='confirm': no run of the sweep has this stage (its runs' stages: ['ablation'])"),
        (PLAN + ["--experiment", "r0"], uri, 0, "experiment 'r0' does not exist yet (closest: 'ro'"),
        (PLAN + ["--experiment", "ro"], uri, 0, "experiment 'ro' (read only)"),
        (PLAN + ["--experiment", "ro", "--mlflow-uri", "sqlite:///mlflow.db"], None, 2, "='sqlite:///mlflow.db': "),
    ]


def test_read_only_commands_create_no_experiment_run_or_file(server, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = state(server, cwd)
    assert before[1]["ro"] == 5  # the parent and four cells
    for argv, uri, code, says in cases(server, cwd):
        proc, seconds = command(cwd, argv, uri)
        out = proc.stdout + proc.stderr
        assert proc.returncode == code and says in out and "Traceback" not in out, (argv, out[-3000:])
        print(f"exit {code} in {seconds:.1f} s: {' '.join(argv[-6:])}")
        assert state(server, cwd) == before, argv
    assert sweep_link(server, "r0", "ro-sweep") == server  # the runs link printed after a sweep
    assert sweep_link(server, "ro", "ro-sweep").startswith(f"{server}/#/experiments/")
    assert state(server, cwd) == before


def test_the_csv_is_the_only_file_a_good_table_command_writes(server, tmp_path):
    proc, _ = command(tmp_path, TABLE + ["--sweep", "ro-sweep", "--experiment", "ro", "--csv", "t.csv"], server)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"] and "CLIP" in (tmp_path / "t.csv").read_text()
