"""The fake cluster's node provider: Ray's fake multi-node provider, with a disk of its own for every node.

Ray's provider starts every worker node in the head's temp dir, so all nodes share one ``runtime_resources``
folder. A node that joins unpacks the job's working dir there afresh (Ray deletes and re-extracts it on each
node), which deleted the current directory of the job's driver running on the head: Tune then failed in
``os.getcwd()`` at the end of the sweep. On a real cluster every node has its own disk; here each worker node gets
its own temp dir (Ray's sockets, logs, runtime envs) and its own ``TMPDIR`` (every scratch file of the trials it
runs), so a test also shows that nothing of a cell lives on a node's disk past the node.

Loaded by the autoscaler's monitor from the cluster YAML: ``provider: {type: external, module:
pad_core.integrations.services.fake_provider.PerNodeDiskProvider}``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import ray._private.parameter
from ray.autoscaler._private.fake_multi_node.node_provider import FakeMultiNodeProvider


class PerNodeDiskProvider(FakeMultiNodeProvider):
    def __init__(self, provider_config: dict, cluster_name: str):
        super().__init__(provider_config, cluster_name)
        self._disk_root = Path(provider_config["node_disk_root"])  # set by start_fake_cluster: short, per head

    def _create_node_with_resources_and_labels(self, node_config, tags, count, resources, labels):
        with self.lock:  # the node id Ray's provider gives the node it creates next
            disk = self._disk_root / f"n{self._next_node_id + 1}"
            (disk / "tmp").mkdir(parents=True, exist_ok=True)
            with _node_params(temp_dir=str(disk), env={"TMPDIR": str(disk / "tmp")}):
                super()._create_node_with_resources_and_labels(node_config, tags, count, resources, labels)


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
