"""The fake cluster's node provider: Ray's fake multi-node provider, with a disk of its own for every node.

Ray's provider starts every worker node in the head's temp dir, so all nodes share one ``runtime_resources``
folder. A node that joins unpacks the job's working dir there afresh (Ray deletes and re-extracts it on each
node), which deleted the current directory of the job's driver running on the head: Tune then failed in
``os.getcwd()`` at the end of the sweep. On a real cluster every node has its own disk; here each worker node gets
its own temp dir (Ray's sockets, logs, runtime envs) and its own ``TMPDIR`` (every scratch file of the trials it
runs), so a test also shows that nothing of a cell lives on a node's disk past the node.

A node whose raylet died (``kill_node``: a preempted host) leaves the provider's list, as an instance a cloud
reclaimed leaves the cloud's. Ray's provider keeps listing it, and its autoscaler (2.60) re-marks a listed node
that stopped reporting as just seen at every update, so it never replaced the node: a DDP cell that needs two
nodes waited forever for the second.

Loaded by the autoscaler's monitor from the cluster YAML: ``provider: {type: external, module:
pad_core.integrations.services.fake_provider.PerNodeDiskProvider}``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import ray._private.parameter
from ray._private import ray_constants
from ray.autoscaler._private.fake_multi_node.node_provider import FakeMultiNodeProvider


class PerNodeDiskProvider(FakeMultiNodeProvider):
    def __init__(self, provider_config: dict, cluster_name: str):
        super().__init__(provider_config, cluster_name)
        self._disk_root = Path(provider_config["node_disk_root"])  # set by start_fake_cluster: short, per head

    def non_terminated_nodes(self, tag_filters):
        with self.lock:
            for node_id in [n for n, v in self._nodes.items() if "node" in v and _raylet_gone(v["node"])]:
                self._terminate_node(self._nodes.pop(node_id))  # reaps what is left of it
        return super().non_terminated_nodes(tag_filters)

    def _create_node_with_resources_and_labels(self, node_config, tags, count, resources, labels):
        with self.lock:  # the node id Ray's provider gives the node it creates next
            disk = self._disk_root / f"n{self._next_node_id + 1}"
            (disk / "tmp").mkdir(parents=True, exist_ok=True)
            with _node_params(temp_dir=str(disk), env={"TMPDIR": str(disk / "tmp")}):
                super()._create_node_with_resources_and_labels(node_config, tags, count, resources, labels)


def _raylet_gone(node) -> bool:
    raylets = node.all_processes.get(ray_constants.PROCESS_TYPE_RAYLET, [])
    return bool(raylets) and raylets[0].process.poll() is not None


@contextlib.contextmanager
def _node_params(temp_dir: str, env: dict[str, str]):
    """Ray's provider builds the node's ``RayParams`` inline; add a temp dir and environment to the one it builds
    (the provider holds its lock: one node is created at a time in the monitor process)."""
    original = ray._private.parameter.RayParams

    def with_disk(**kwargs):
        kwargs["env_vars"] = {**(kwargs.get("env_vars") or {}), **env}
        return original(**kwargs, temp_dir=temp_dir)

    ray._private.parameter.RayParams = with_disk
    try:
        yield
    finally:
        ray._private.parameter.RayParams = original
