"""Packing on the fake autoscaling cluster (cluster/fake_local.yaml, worker node types that declare GPUs): trials
holding a fraction of a GPU share one node's GPU, whole-GPU trials share a node with several GPUs, and the
autoscaler adds the one node that holds them, not one node per trial. The GPUs are declared for scheduling only
(PADSWEEP_DECLARED_GPUS=1 on every node): the trials train on the CPU. Placement is read from each run's
``pad.nodes`` tag, concurrency from the runs' start and end times in MLflow."""

import time
from contextlib import contextmanager

import pytest
from mlflow.tracking import MlflowClient

from pad_core.integrations import services
from tests.integration.cluster_stack import FakeStack, fake_stack, worker_ids
from tests.integration.test_faults import SMOKE
from tests.integration.test_sweeps import children

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow, pytest.mark.cluster]

CELLS = ["--rows", "tests.integration.fault_rows:HEALTHY", "--base", "tests.integration.fault_rows:BASE",
         "--protocols", "P1", "--autoscaling", "--no-reuse", *SMOKE]


def gpu_node(cpus: int, gpus: int) -> dict:
    return {"gpu_node": {"resources": {"CPU": cpus, "GPU": gpus}, "node_config": {}, "min_workers": 0,
                         "max_workers": 2}}


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """MLflow and S3, shared by a fresh fake cluster per test (each declares its own GPU node type)."""
    with fake_stack(tmp_path_factory.mktemp("packing")) as stack:
        yield stack


@contextmanager
def cluster(stack: FakeStack, worker_types: dict):
    stack.start_ray(worker_types)
    try:
        yield stack
    finally:
        services.stop(stack.ray)
        stack.ray = None


def sweep_watching_nodes(stack: FakeStack, *args: str, timeout: float = 900) -> set[str]:
    """Submit the sweep as a Ray job; every worker node seen alive while it ran."""
    job, seen, deadline = stack.submit_async(*args), set(), time.monotonic() + timeout
    while job.poll() is None:
        seen |= stack.worker_nodes()
        if time.monotonic() > deadline:
            job.kill()
            raise AssertionError("the packing sweep timed out")
        time.sleep(0.5)
    out = job.stdout.read()
    assert job.returncode == 0, out[-5000:]
    return seen


def packed_runs(stack: FakeStack, sweep: str, cells: int) -> tuple[set[str], list]:
    """(the worker nodes the cells trained on, their runs), every cell completed."""
    runs = children(MlflowClient(stack.mlflow.url), sweep)[1]
    assert len(runs) == cells and all(r.data.tags["pad.outcome"] == "completed" for r in runs), runs
    return {n for r in runs for n in worker_ids(r.data.tags["pad.nodes"])}, runs


def most_at_once(runs: list) -> int:
    """The largest number of these runs running at one moment (from their MLflow start and end times)."""
    edges = sorted([(r.info.start_time, 1) for r in runs] + [(r.info.end_time, -1) for r in runs])
    running, most = 0, 0
    for _, step in edges:  # at equal times an end (-1) sorts before a start: touching runs do not overlap
        running += step
        most = max(most, running)
    return most


def per_node_peak(runs: list) -> dict[str, int]:
    by_node: dict[str, list] = {}
    for run in runs:
        by_node.setdefault(run.data.tags["pad.nodes"], []).append(run)
    return {node: most_at_once(group) for node, group in by_node.items()}


@pytest.mark.parametrize(("gpus_per_node", "per_trial", "cells", "peak"), [
    (1, "0.25", 5, 4),  # 5 trials of 0.25 GPU + 1 CPU: the CPUs would take all 5 on a node, the GPU share only 4
    (2, "1", 3, 2),  # whole-GPU trials: 2 to a 2-GPU node, never 3
], ids=["quarter-gpu", "whole-gpu"])
def test_trials_pack_onto_a_node_up_to_its_gpus_and_never_past_them(record, gpus_per_node, per_trial, cells, peak):
    """Nodes of 8 CPUs, so the GPUs are the binding limit: a node runs as many trials at once as its GPUs hold and
    never more (a dropped GPU share would show one more)."""
    name = f"pack-{per_trial}"
    with cluster(record, gpu_node(cpus=8, gpus=gpus_per_node)) as stack:
        seen = sweep_watching_nodes(stack, *CELLS, "--seeds", ",".join(map(str, range(cells))), "--gpus-per-trial",
                                    per_trial, "--sweep-name", name)
        nodes, runs = packed_runs(stack, name, cells)
    assert nodes <= seen, (nodes, seen)
    assert max(per_node_peak(runs).values()) == peak, per_node_peak(runs)
