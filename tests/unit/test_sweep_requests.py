"""MLflow requests a sweep makes per cell (docs/BENCHMARKS.md, sweep scale): ending a run is two requests (its outcome
tags, its status), not a read of the whole run on top to print its URL; a real ``mlflow server`` counts them in its
access log. The run ends as before: status, end time, outcome and reason.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from pad_core.integrations import services
from pad_core.integrations.mlflow_runs import SweepRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.sweep_scale import access_counts  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    svc = services.start_mlflow(tmp_path_factory.mktemp("requests"))
    try:
        yield svc
    finally:
        services.stop(svc)


def requests_during(svc, action) -> dict[str, int]:
    log = Path(svc.log)
    offset = log.stat().st_size
    action()
    time.sleep(0.5)  # the access log line is written after the response
    counts, errors, _ = access_counts(log, offset)
    assert errors == 0
    return dict(counts)


@pytest.mark.parametrize("status, outcome, reason", [("FINISHED", "completed", ""),
                                                     ("FAILED", "failed", "NonFiniteLoss: loss is nan")])
def test_ending_a_cell_reads_nothing_back_and_prints_no_url(server, capfd, status, outcome, reason):
    record = SweepRecord(server.url, "requests")
    parent = record.parent("sweep", {})
    child = record.child(parent, "row|P1|s0|abc", "row·P1·s0", {"pad.row": "row"}, {"train.seed": "0"})
    capfd.readouterr()
    made = requests_during(server, lambda: record.finalize(child.run_id, status, outcome, reason))
    assert made == {"POST /api/2.0/mlflow/runs/log-batch": 1, "POST /api/2.0/mlflow/runs/update": 1}
    assert "View run" not in capfd.readouterr().out
    run = record.client.get_run(child.run_id)
    assert (run.info.status, run.data.tags["pad.outcome"]) == (status, outcome)
    assert run.info.end_time and run.data.tags.get("pad.reason", "") == reason


def test_a_run_made_for_this_attempt_is_not_read_back_before_each_new_key(server):
    """In-trial, a run the trial created just now holds no metrics: its reports go out without first reading each
    key's history (two requests a cell); a run that existed before (a retry, a resumed sweep) is still read, so a
    step it holds is not logged twice."""
    from pad_core.integrations.run_logger import RunLogger

    record = SweepRecord(server.url, "requests")
    parent = record.parent("sweep-logger", {})
    child = record.child(parent, "row|P1|s1|abc", "row·P1·s1", {}, {})
    report = {"dev/P1/eer": 0.25, "train/loss": 0.5}
    fresh = RunLogger(server.url, child.run_id, fresh=True)
    assert requests_during(server, lambda: fresh.log(report, 1)) == {"POST /api/2.0/mlflow/runs/log-batch": 1}
    again = RunLogger(server.url, child.run_id)  # the next attempt: the run holds step 1
    made = requests_during(server, lambda: again.log(report, 1))
    assert made == {"GET /api/2.0/mlflow/metrics/get-history": 1}
    assert [m.step for m in record.client.get_metric_history(child.run_id, "dev/P1/eer")] == [1]
