"""A table's statistics from a finished sweep in a real MLflow store (SQLite, the server's backend), read only:
``python -m pad_core table --interval``, and seed planning (``--plan --target-diff``): the seeds a difference
needs, the test-set floor no seed count passes, and the refusals."""

import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric, ViewType

from pad_core.ablation import AblationSpec, Row
from pad_core.config import scale_overrides
from pad_core.errors import PadError
from pad_core.integrations.mlflow_runs import SweepRecord
from pad_core.integrations.planning import seed_planning
from pad_core.metrics.report import metric_key
from pad_core.models.variants import VARIANTS

SPEC = AblationSpec(name="plan-sweep", title="Planning",
                    rows=(Row("clip", "CLIP"), Row("lr", "lr", {"optim.lr": 1e-4})), protocols=("P1",),
                    seeds=(0, 1, 2), base={**scale_overrides("smoke"), **VARIANTS.get("mmoe")}, metrics=("acer",))


def scores(row: str, seed: int) -> pd.DataFrame:
    """80 subjects, one bona fide and one attack sample each; each run gets its own random errors (row 'lr'
    errs less), so both the seeds and the test subjects vary the ACER."""
    rng = np.random.default_rng([len(row), seed])
    rate = 0.25 if row == "clip" else 0.15
    live_wrong, attack_wrong = rng.random(80) < rate, rng.random(80) < rate
    return pd.DataFrame({"path": [f"s{i}/{k}.png" for i in range(80) for k in ("live", "print")],
                         "subject": [f"id{i}" for i in range(80) for _ in range(2)], "split": "test",
                         "label": [1, 0] * 80, "attack_type": ["none", "print"] * 80,
                         "score": [v for i in range(80) for v in (0.2 if live_wrong[i] else 0.9,
                                                                   0.8 if attack_wrong[i] else 0.1)]})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    record = SweepRecord(uri, "plans")
    parent = record.parent(SPEC.name, {"pad.stage": "ablation"})
    record.client.set_tag(parent, "pad.spec", SPEC.describe())
    for cell in SPEC.cells():
        tags = {"pad.row": cell.row.name, "pad.protocol": "P1", "pad.seed": str(cell.seed),
                "pad.config_hash": cell.config_hash, "pad.stage": "ablation", "pad.threshold_policy": "dev_eer"}
        run_id = record.child(parent, cell.key, cell.run_name, tags, {}).run_id
        frame = scores(cell.row.name, cell.seed)
        live, attack = frame[frame["label"] == 1], frame[frame["label"] == 0]
        acer = ((attack["score"] >= 0.5).mean() + (live["score"] < 0.5).mean()) / 2
        record.client.log_batch(run_id, metrics=[Metric(metric_key("test", "P1", m), v, 0, 6)
                                                 for m, v in (("acer", acer), ("threshold", 0.5))])
        with tempfile.TemporaryDirectory() as tmp:
            frame.to_csv(os.path.join(tmp, "scores.csv"), index=False)
            record.log_artifact(run_id, os.path.join(tmp, "scores.csv"))
        record.finalize(run_id, "FINISHED", "completed")
    return uri, record


def runs_in(record: SweepRecord) -> int:
    return len(record.client.search_runs([record.experiment_id], run_view_type=ViewType.ALL))


def test_seeds_needed_follow_the_formula_and_a_target_under_the_floor_is_unreachable(store):
    from pad_core.integrations.publish import rebuild_table

    uri, record = store
    before = runs_in(record)
    rendered, *_ = rebuild_table(record, record.find_parent(SPEC.name).info.run_id)
    res = rendered.stats.resolution
    assert res.seed_df == 4 and res.seeds == 3 and res.protocols == 1 and res.test_var > 0
    z = 1.959964 + 0.841621
    reachable = 2.0 * res.floor()
    needed = math.ceil(2 * res.seed_var / (reachable**2 / z**2 - res.test_var))
    text = seed_planning(uri, "plans", SPEC.name, reachable)
    assert f"needs {needed} seed" in text and f"floor {res.floor():.2f} pp" in text
    unreachable = seed_planning(uri, "plans", SPEC.name, 0.9 * res.floor())
    assert "no number of seeds resolves it" in unreachable and "seed averaging does not shrink it" in unreachable
    assert "Resolvable ACER difference with 3 seeds" in rendered.markdown
    assert runs_in(record) == before  # read only


def test_planning_without_mlflow_or_a_finished_sweep_is_refused(store):
    uri, _ = store
    with pytest.raises(PadError, match=r"--target-diff=1.0: seed planning reads .* no MLflow URI is given"):
        seed_planning(None, "plans", SPEC.name, 1.0)
    with pytest.raises(PadError, match=r"--target-diff=1.0: seed planning reads the finished sweep 'other' from "
                                       r"MLflow: --sweep='other': no such sweep.*Fix: run the sweep first"):
        seed_planning(uri, "plans", "other", 1.0)


@pytest.mark.parametrize(("argv", "says"), [
    (["--target-diff", "1"], "error: --target-diff=1.0: only --plan of an ablation reads it"),
    (["--plan", "--target-diff", "0"], "error: --target-diff=0.0: must be > 0"),
    (["--plan", "--target-diff", "1"], "error: --target-diff=1.0: seed planning reads the finished sweep's "
                                       "variances from MLflow, and no MLflow URI is given"),
])
def test_the_sweep_command_line_refuses_target_diff_it_cannot_use(argv, says, capsys, monkeypatch):
    from pad_core.integrations.cli import sweep_main
    from sweeps.mmoe_components import SWEEP

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(SystemExit) as exit_:
        sweep_main("plan test", "sweeps/mmoe_components.py", get_ablation=SWEEP.for_args,
                   argv=["--smoke-test", "--mlflow-uri", "http://127.0.0.1:1", *argv] if "--plan" not in argv
                   else ["--smoke-test", *argv])
    assert exit_.value.code == 2 and says in capsys.readouterr().err


def table_command(uri: str, *flags: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pad_core", "table", "--sweep", SPEC.name, "--mlflow-uri", uri,
                           "--experiment", "plans", *flags], capture_output=True, text=True, timeout=300)
    return proc, time.monotonic() - started


def test_table_command_shows_intervals_by_default_and_std_on_request(store):
    uri, record = store
    before = runs_in(record)
    ci, _ = table_command(uri)
    assert ci.returncode == 0, ci.stderr[-2000:]
    assert "(%, mean over seeds [95% bootstrap CI])" in ci.stdout and "| p (bootstrap, Holm) |" in ci.stdout
    assert "by subject" in ci.stdout
    std, _ = table_command(uri, "--interval", "std")
    assert std.returncode == 0 and "(%, mean±std over seeds)" in std.stdout
    assert next(ln for ln in std.stdout.splitlines() if ln.startswith("| CLIP |")).startswith("| CLIP | 23.33±")
    assert runs_in(record) == before


def test_table_command_refuses_intervals_when_no_run_has_scores(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    record = SweepRecord(uri, "plans")
    parent = record.parent(SPEC.name, {})
    record.client.set_tag(parent, "pad.spec", SPEC.describe())
    for cell in SPEC.cells()[:2]:
        tags = {"pad.row": cell.row.name, "pad.protocol": "P1", "pad.seed": str(cell.seed),
                "pad.config_hash": cell.config_hash}
        run_id = record.child(parent, cell.key, cell.run_name, tags, {}).run_id
        record.client.log_batch(run_id, metrics=[Metric(metric_key("test", "P1", "acer"), 0.1, 0, 6)])
        record.finalize(run_id, "FINISHED", "completed")
    proc, seconds = table_command(uri, "--interval", "ci")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert ("error: --interval='ci': no tabulated run has a scores.csv artifact (runs of older code), so there is no "
            "interval to show. Fix: use --interval std") in proc.stderr
    print(f"refused in {seconds:.1f} s")
    plain, _ = table_command(uri)
    assert plain.returncode == 0 and "No run has a scores.csv artifact" in plain.stdout
