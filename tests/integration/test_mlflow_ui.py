"""The MLflow UI, in a real headless Chromium against the real server: after a smoke sweep, the runs table and
the chart comparison page render with the sweep's run names."""

import os
import shutil

import pytest
from mlflow.tracking import MlflowClient

from pad_core.integrations.mlflow_ui import chromium, sweep_url
from tests.integration.conftest import run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
NAMES = ("clip·P1·s0", "rate1·P1·s0")


@pytest.fixture(scope="module")
def swept(stack):
    if not shutil.which("chromium") and os.environ.get("CI") != "true":
        pytest.skip("chromium is not installed (scripts/setup_system.sh installs it; CI always has it)")
    run_sweep(stack, "mask_rates.py", "--smoke-test", "--sweep-name", "ui-smoke")
    return MlflowClient(stack["mlflow"]).get_experiment_by_name("padsweep").experiment_id


def test_runs_table_lists_every_cell_by_name(stack, swept):
    dom = chromium(sweep_url(stack["mlflow"], swept, "ui-smoke", "test/p1/acer"))
    assert all(name in dom for name in NAMES), "run names missing from the runs table"


def test_chart_comparison_page_renders(stack, swept, tmp_path):
    url = sweep_url(stack["mlflow"], swept, "ui-smoke", "test/p1/acer", charts=True)
    dom = chromium(url)
    assert all(name in dom for name in NAMES) and "dev/p1" in dom  # the runs and their metric charts
    shot = tmp_path / "charts.png"
    chromium(url, screenshot=str(shot))
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:4] == b"\x89PNG"
