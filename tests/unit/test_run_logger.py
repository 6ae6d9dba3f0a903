"""The queueing MLflow logger (fault 4): reports wait while the server is unreachable, travel in checkpoints,
are sent once it answers (a resend is ignored by MLflow), and an outage past the bound fails with the reason."""

import os

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pad_core.integrations.run_logger import PENDING_FILE, RunLogger, TrackingUnavailable
from pad_core.integrations.services.base import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("e", artifact_location=str(tmp_path / "art")))
    return uri, client, run.info.run_id


def test_reports_queue_while_the_server_is_down_and_the_bound_fails_with_the_reason(tmp_path):
    clock = Clock()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    logger = RunLogger(dead, "r", max_outage_s=60, clock=clock)
    logger.log({"dev/p1/eer": 0.5}, step=3)
    clock.now = 30
    logger.log({"dev/p1/eer": 0.4}, step=6)
    assert [r.step for r in logger.pending] == [3, 6] and logger.down_since == 0
    (tmp_path / "a.txt").write_text("scores")
    logger.artifact(str(tmp_path / "a.txt"))  # the caller may delete its file: a copy waits
    (tmp_path / "a.txt").unlink()
    spooled = logger.artifacts[0]
    clock.now = 61
    with pytest.raises(TrackingUnavailable, match=r"unreachable for 61 s \(--tracking-outage=60\) with 3 reports "
                                                  r"and 1 artifacts queued.*Fix: bring the tracking server back"):
        logger.log({"dev/p1/eer": 0.3}, step=9)
    assert not os.path.exists(os.path.dirname(spooled))  # the copy is not left in the temp folder


def test_queued_reports_travel_in_a_checkpoint_and_a_resend_is_not_duplicated(store, tmp_path):
    uri, client, run_id = store
    down = RunLogger(f"http://127.0.0.1:{free_port()}", run_id)
    down.log({"dev/p1/eer": 0.5}, step=3, tags={"pad.note": "x"})
    down.spill(str(tmp_path))
    assert (tmp_path / PENDING_FILE).exists()
    for _ in range(2):  # two retries resume from the same checkpoint: each resends the report
        up = RunLogger(uri, run_id)
        up.adopt(str(tmp_path))
        up.drain(poll_s=0)
        assert up.pending == []
    history = client.get_metric_history(run_id, "dev/p1/eer")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(3, 0.5, down.pending[0].timestamp)]
    assert client.get_run(run_id).data.tags["pad.note"] == "x"


def test_a_rejected_request_is_not_queued(store):
    uri, _, _ = store
    with pytest.raises(MlflowException):
        RunLogger(uri, "no-such-run").log({"dev/p1/eer": 0.5}, step=3)


def test_a_step_the_run_holds_already_is_not_logged_again(store):
    """A trial resumed from a checkpoint older than its last report trains and reports those steps again, with new
    timestamps (checkpoints are written by wall time): the first value stands, one value per key and step."""
    uri, client, run_id = store
    first = RunLogger(uri, run_id)
    first.log({"dev/p1/eer": 0.5, "train/loss": 1.0}, step=3)
    first.log({"dev/p1/eer": 0.4, "train/loss": 0.9}, step=6)
    resumed = RunLogger(uri, run_id)  # from the checkpoint at step 3
    resumed.log({"dev/p1/eer": 0.45, "train/loss": 0.95}, step=6)
    resumed.log({"dev/p1/eer": 0.3, "train/loss": 0.8}, step=9)
    history = client.get_metric_history(run_id, "dev/p1/eer")
    assert sorted((m.step, m.value) for m in history) == [(3, 0.5), (6, 0.4), (9, 0.3)]
