"""Sweeps on a multi-node cluster (docs/RELIABILITY.md, "Nodes"): Ray's fake autoscaling provider starts worker
nodes as real raylets on this machine (cluster/fake_local.yaml: a head with TRAIN_DRIVER slots and no CPU, worker
nodes of one CPU, 0 to 2 of them); checkpoints live in a real S3 server, MLflow records; sweeps are submitted as
Ray jobs. A worker node is lost by SIGKILL to every process it started; the whole cluster by SIGKILL to the head's
process group. Each result is compared with the same cells run undisturbed on a single-node head (``stack``)."""

import os
import signal
import time

import pytest
from mlflow.tracking import MlflowClient

from pad_core.integrations.services import kill_node
from tests.integration.cluster_stack import FakeStack, fake_stack, worker_ids
from tests.integration.conftest import run_sweep
from tests.integration.test_faults import SMOKE, table_lines, with_set
from tests.integration.test_sweeps import children

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow, pytest.mark.cluster]

# --no-reuse: every test trains its cells (the same cells finished by an earlier test would be linked, not trained)
CELLS = ["--rows", "tests.integration.fault_rows:HEALTHY", "--base", "tests.integration.fault_rows:BASE",
         "--protocols", "P1", "--autoscaling", "--no-reuse", *with_set(SMOKE, "train.steps", 15)]  # evaluations 3..15
TWO_SEEDS, ONE_SEED = [*CELLS, "--seeds", "0,1"], [*CELLS, "--seeds", "0"]
DDP = [*ONE_SEED, "--workers-per-trial", "2"]  # two ranks of one CPU each: one per worker node
EVALUATIONS = [3, 6, 9, 12, 15]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with fake_stack(tmp_path_factory.mktemp("cluster")) as stack:
        yield stack


def one_node_table(stack, cells: list[str], name: str) -> list[str]:
    """The table of the same cells on one node (the suite's single-node head)."""
    return table_lines(run_sweep(stack, "rows.py", *[a for a in cells if a != "--autoscaling"], "--sweep-name",
                                 name).stdout)


@pytest.fixture(scope="module")
def undisturbed(stack):
    return one_node_table(stack, TWO_SEEDS, "one-node-two-seeds")


@pytest.fixture(scope="module")
def undisturbed_ddp(stack):
    return one_node_table(stack, DDP, "one-node-ddp")


def runs_of(cluster: FakeStack, sweep: str) -> list:
    client = MlflowClient(cluster.mlflow.url)
    if client.get_experiment_by_name("padsweep") is None:  # the first sweep has not started yet
        return []
    try:
        return children(client, sweep)[1]
    except AssertionError:  # the sweep has not made its parent run yet
        return []


def wait_training(cluster: FakeStack, sweep: str, cells: int, job, timeout: float = 600) -> list:
    """The sweep's runs once each has a persisted checkpoint and its ``pad.nodes`` (both arrive with the first
    evaluation, after step 3), while training goes on to step 15."""
    deadline = time.monotonic() + timeout
    while True:
        runs = runs_of(cluster, sweep)
        if len(runs) == cells and all("pad.nodes" in r.data.tags for r in runs):
            return runs
        assert job.poll() is None, f"the job ended before its cells trained:\n{job.stdout.read()[-4000:]}"
        assert time.monotonic() < deadline, "timed out waiting for the first checkpoints"
        time.sleep(0.5)


def assert_resumed_once(cluster: FakeStack, sweep: str, cells: int, resumed: set[str] = frozenset()) -> list:
    """One finished run per cell, each with every evaluation logged exactly once; the ``resumed`` runs (ids) went
    on from a checkpoint (step 3 or later), not from step 0 (which would log the same curve: steps already in
    MLflow are not sent again)."""
    client, runs = MlflowClient(cluster.mlflow.url), runs_of(cluster, sweep)
    assert len(runs) == cells and all(r.data.tags["pad.outcome"] == "completed" for r in runs), runs
    for run in runs:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "dev/p1/eer")]
        assert sorted(steps) == EVALUATIONS, steps
        if run.info.run_id in resumed:
            assert int(run.data.tags.get("pad.resumed_from_step", "0")) >= EVALUATIONS[0], run.data.tags
    return runs


def test_a_submitted_sweep_scales_out_trains_on_worker_nodes_via_s3_and_scales_back(cluster, undisturbed):
    assert not cluster.worker_nodes()  # nodes scale from zero
    out = cluster.submit(*TWO_SEEDS, "--keep-checkpoints", "--sweep-name", "multi")
    runs = assert_resumed_once(cluster, "multi", 2)
    nodes = {n for r in runs for n in worker_ids(r.data.tags["pad.nodes"])}
    assert len(nodes) == 2, nodes  # one CPU per worker node: the two cells trained on two nodes at once
    kept = cluster.filesystem().ls(f"{cluster.storage[5:]}/multi/cells")
    assert len(kept) == 2, kept  # each cell's checkpoints are in S3, the only storage the nodes share
    assert table_lines(out) == undisturbed
    assert cluster.wait_scaled_in() < 120


@pytest.mark.node_loss
def test_a_lost_worker_node_s_cell_resumes_from_its_s3_checkpoint_into_the_same_run(cluster, undisturbed):
    job = cluster.submit_async(*TWO_SEEDS, "--sweep-name", "lost-node")
    victim = wait_training(cluster, "lost-node", 2, job)[0]
    lost = worker_ids(victim.data.tags["pad.nodes"])[0]
    kill_node(cluster.ray, lost)
    out, _ = job.communicate(timeout=900)
    assert job.returncode == 0, out[-5000:]
    runs = assert_resumed_once(cluster, "lost-node", 2, resumed={victim.info.run_id})
    assert all(lost not in r.data.tags["pad.nodes"] for r in runs)  # every cell ended on a surviving or new node
    assert table_lines(out) == undisturbed


def test_a_ddp_cell_over_two_nodes_survives_losing_one(cluster, undisturbed_ddp):
    job = cluster.submit_async(*DDP, "--sweep-name", "lost-rank")
    (training,) = wait_training(cluster, "lost-rank", 1, job)
    ranks = worker_ids(training.data.tags["pad.nodes"])
    assert len(ranks) == 2 and len(set(ranks)) == 2, ranks  # one rank per node
    kill_node(cluster.ray, ranks[1])
    out, _ = job.communicate(timeout=900)
    assert job.returncode == 0, out[-5000:]
    (run,) = assert_resumed_once(cluster, "lost-rank", 1, resumed={training.info.run_id})
    assert ranks[1] not in run.data.tags["pad.nodes"]
    assert table_lines(out) == undisturbed_ddp


def test_the_same_job_resumes_after_the_whole_cluster_is_torn_down(cluster, undisturbed):
    job = cluster.submit_async(*TWO_SEEDS, "--sweep-name", "torn-down")
    training = {r.info.run_id for r in wait_training(cluster, "torn-down", 2, job)}
    cluster.tear_down_ray()
    os.killpg(job.pid, signal.SIGKILL)  # the user's `ray job submit` client, left waiting on a dashboard now gone
    job.wait()
    cluster.start_ray()  # a new cluster: new addresses, no node of the old one
    out = cluster.submit(*TWO_SEEDS, "--sweep-name", "torn-down")
    assert "2 cells, 0 already finished in MLflow, 2 to run" in out, out[-3000:]
    assert_resumed_once(cluster, "torn-down", 2, resumed=training)
    assert table_lines(out) == undisturbed
