"""A local autoscaling Ray cluster: ``cluster/fake_local.yaml`` on one machine (Ray's fake multi-node provider).

The head declares what ``cluster/a100.yaml``'s head declares (TRAIN_DRIVER slots, no CPU for training); worker
nodes are real raylets that the real autoscaler starts on this host when trials wait for resources, and stops
when they are idle. They run in the head's process session, so stopping the head's process group stops the whole
cluster. One worker node can be killed alone, its raylet and every process it started (``kill_node``): a spot
preemption or a host failure, rehearsed.

Worker nodes carry their node id in the environment variable ``RAY_OVERRIDE_NODE_ID_FOR_TESTING`` (set by the
fake provider, inherited by every process the node starts): that is how their processes are found by PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import yaml

from pad_core.integrations.services.base import CLUSTER_VAR, HOST, Service, free_port, pids_with_env
from pad_core.integrations.services.ray_head import head_temp_dir, start_head_on

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "cluster" / "fake_local.yaml"
NODE_ID_VAR = "RAY_OVERRIDE_NODE_ID_FOR_TESTING"
HEAD_NODE_ID = "f" * 51 + "00000"  # the fake provider's fixed id for the head (FAKE_HEAD_NODE_ID)

# Read by every node (the autoscaler's monitor starts worker raylets with the head's environment):
# - the fake provider refuses to run without RAY_FAKE_CLUSTER;
# - the autoscaler looks at demand every second, not every 5 s, and replaces a node that has not reported for
#   10 s, not 30 s (a lost node is noticed in test time);
# - GPUs declared by a node type are for scheduling only: trials holding them train on the CPU.
FAKE_CLUSTER_ENV = {"RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1",
                    "AUTOSCALER_HEARTBEAT_TIMEOUT_S": "10", "PADSWEEP_DECLARED_GPUS": "1"}


def cluster_config(path: Path, gcs_port: int, worker_types: dict | None = None) -> dict:
    """The autoscaler's config: ``path`` with the head's GCS address filled in and, when given, the worker node
    types replaced (tests declare GPU node types this way)."""
    config = yaml.safe_load(Path(path).read_text())
    config["provider"]["gcs_address"] = f"{HOST}:{gcs_port}"
    config["provider"]["node_disk_root"] = str(head_temp_dir(gcs_port)) + "-nodes"
    if worker_types is not None:
        head_type = config["head_node_type"]
        config["available_node_types"] = {head_type: config["available_node_types"][head_type], **worker_types}
        config["max_workers"] = sum(t.get("max_workers", 0) for t in worker_types.values())
    return config


def start_fake_cluster(root: Path, config: Path = DEFAULT_CONFIG, *, worker_types: dict | None = None,
                       timeout: float = 120.0) -> Service:
    """Start the head of a fake autoscaling cluster; worker nodes come and go with demand."""
    root = Path(root).resolve()
    gcs, dash = free_port(), free_port()
    resolved = cluster_config(config, gcs, worker_types)
    path = root / "fake-cluster.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(resolved, sort_keys=False))
    head = dict(resolved["available_node_types"][resolved["head_node_type"]]["resources"])
    num_cpus = head.pop("CPU", 0)
    if "GPU" in head:
        raise ValueError(f"{config}: the head declares GPUs; trials train on worker nodes (remove head GPU)")
    return start_head_on(root, gcs, dash, num_cpus=num_cpus, timeout=timeout, resources=head,
                         autoscaling_config=path, env=FAKE_CLUSTER_ENV, log_name="ray-fake-cluster.log")


def node_pids(node_id: str, cluster: str) -> list[int]:
    """Every process of the worker node ``node_id`` of the fake cluster ``cluster`` (the head's CLUSTER_VAR): its
    raylet, agents and workers, found by the two ids each of them inherited. Ray numbers fake nodes alike in every
    cluster (...00001, ...00002), so the node id alone would reach the nodes of other clusters on the machine."""
    theirs = set(pids_with_env(CLUSTER_VAR, cluster))
    return [pid for pid in pids_with_env(NODE_ID_VAR, node_id) if pid in theirs]


def kill_node(svc: Service, node_id: str) -> list[int]:
    """SIGKILL every process of one worker node of the cluster ``svc`` heads (a host that disappears: no drain,
    no goodbye). Returns the PIDs."""
    if node_id == HEAD_NODE_ID:
        raise ValueError("kill_node: that is the head; stop the whole cluster with its service instead")
    pids = node_pids(node_id, svc.cluster)
    if not pids:
        raise ProcessLookupError(f"no process of node {node_id} in the cluster at {svc.url} (not one of its worker "
                                 "nodes, or gone)")
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # exited meanwhile
            os.kill(pid, signal.SIGKILL)
    return pids


def alive_nodes(dashboard: str) -> dict[str, bool]:
    """Node id -> is_head for every node the cluster at ``dashboard`` reports alive (Ray's state API)."""
    from ray.util.state import list_nodes

    return {n.node_id: n.is_head_node for n in list_nodes(address=dashboard, limit=1000, raise_on_missing_output=False)
            if n.state == "ALIVE"}

