"""Fault 4 (docs/RELIABILITY.md): the MLflow server goes down for 60 s while a cell trains. Training goes on, the
reports made meanwhile are queued, and they reach MLflow when the server is back on the same address and store;
the run ends FINISHED with every evaluation once, as if nothing had happened."""

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from pad_core.integrations import services
from tests.integration.conftest import ROOT
from tests.integration.test_faults import ONE_CELL, wait_for, with_set
from tests.integration.test_sweeps import children

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
OUTAGE_S = 60


def test_metrics_logged_while_mlflow_is_down_arrive_when_it_returns(stack, tmp_path):
    root = tmp_path / "tracking"
    server = services.start_mlflow(root)
    port = int(server.url.rsplit(":", 1)[1])
    client = MlflowClient(server.url)
    env = {**stack["env"], "MLFLOW_TRACKING_URI": server.url}
    cmd = [sys.executable, str(ROOT / "sweeps" / "rows.py"), *with_set(ONE_CELL, "train.steps", 24),
           "--sweep-name", "outage", "--tracking-outage", "600"]
    driver = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        wait_for(lambda: _logged_steps(client, "outage") != [], driver)  # the first evaluation (step 3) is in
        services.stop(server)
        down = time.monotonic()
        time.sleep(OUTAGE_S)
        server = services.start_mlflow(root, port)
        outage = time.monotonic() - down
        out, _ = driver.communicate(timeout=600)
        assert driver.returncode == 0, out[-4000:]
        assert outage >= OUTAGE_S and "unreachable" in out and "MLflow is back" in out, out[-4000:]
        _, runs = children(client, "outage")
        assert len(runs) == 1 and runs[0].info.status == "FINISHED" and runs[0].data.tags["pad.outcome"] == "completed"
        steps = _logged_steps(client, "outage")
        assert sorted(set(steps)) == list(range(3, 25, 3)) and steps.count(3) == 1, steps  # each evaluation once
        assert any(k.startswith("test/p1/") for k in runs[0].data.metrics)  # the final report arrived too
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        services.stop(server)


def _logged_steps(client: MlflowClient, sweep: str) -> list[int]:
    """Steps of the cell's dev EER history (every evaluation; the final report logs other keys)."""
    try:
        _, runs = children(client, sweep)
    except (AssertionError, Exception):  # noqa: BLE001 - no parent yet, or the server is starting
        return []
    return sorted(m.step for r in runs for m in client.get_metric_history(r.info.run_id, "dev/p1/eer"))
