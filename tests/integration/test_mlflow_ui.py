"""The MLflow UI, in a real headless Chromium against the real server: after a smoke sweep, the experiment opens in
the model-training view (its runs table, not the GenAI landing), and the runs table and the chart comparison page
render with the sweep's run names."""

import os
import shutil

import pytest
from mlflow.tracking import MlflowClient

from pad_core.integrations.mlflow_ui import KIND_TAG, TRAINING_KIND, chromium, experiment_url, sweep_url
from tests.integration.conftest import run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
NAMES = ("clip·P1·s0", "rate1·P1·s0")
SWEEP = "ui-smoke"  # the sweep's parent run
GENAI_ONLY = "/chat-sessions"  # a tab of the GenAI view's side bar; the training view has Runs, Models, Traces


@pytest.fixture(scope="module")
def swept(stack):
    if not shutil.which("chromium") and os.environ.get("CI") != "true":
        pytest.skip("chromium is not installed (scripts/setup_system.sh installs it; CI always has it)")
    run_sweep(stack, "mask_rates.py", "--smoke-test", "--sweep-name", SWEEP)
    return MlflowClient(stack["mlflow"]).get_experiment_by_name("padsweep").experiment_id


def test_runs_table_lists_every_cell_by_name(stack, swept):
    dom = chromium(sweep_url(stack["mlflow"], swept, SWEEP, "test/p1/acer"))
    assert all(name in dom for name in NAMES), "run names missing from the runs table"


def test_chart_comparison_page_renders(stack, swept, tmp_path):
    url = sweep_url(stack["mlflow"], swept, SWEEP, "test/p1/acer", charts=True)
    dom = chromium(url)
    assert all(name in dom for name in NAMES) and "dev/p1" in dom  # the runs and their metric charts
    shot = tmp_path / "charts.png"
    chromium(url, screenshot=str(shot))
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:4] == b"\x89PNG"


def test_the_experiment_opens_in_the_training_view(stack, swept):
    """The experiment's own page, as padsweep links it, is the runs table: the sweep's run (its cells nest under
    it); the same page without the view named is MLflow 3.17's default, the GenAI landing, with no runs table."""
    assert MlflowClient(stack["mlflow"]).get_experiment(swept).tags[KIND_TAG] == TRAINING_KIND
    dom = chromium(experiment_url(stack["mlflow"], swept))
    shown = {"sweep run": SWEEP in dom, "runs tab": f"#/experiments/{swept}/runs" in dom,
             "GenAI tabs": GENAI_ONLY in dom}
    assert shown == {"sweep run": True, "runs tab": True, "GenAI tabs": False}
    genai = chromium(f"{stack['mlflow']}/#/experiments/{swept}")
    assert SWEEP not in genai and GENAI_ONLY in genai
