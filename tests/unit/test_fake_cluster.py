"""The fake autoscaling cluster's pieces that need no cluster: its config (valid for Ray, the shape of
cluster/a100.yaml), the head's address and per-node disks filled in, and finding a node's processes by PID."""

import copy
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from ray.autoscaler._private.fake_multi_node.node_provider import FAKE_HEAD_NODE_ID

from pad_core.integrations.services import Service, fake_cluster, stop
from pad_core.integrations.services.base import CLUSTER_VAR, pids_with_env
from tests.unit.test_cluster_configs import CLUSTER, FAKE, check, load


def test_the_fake_cluster_is_a100_yaml_on_one_machine():
    fake, real = load(FAKE), load(CLUSTER / "a100.yaml")
    check(copy.deepcopy(fake))  # Ray's schema and config preparation accept it
    head = fake["available_node_types"][fake["head_node_type"]]
    assert head["resources"] == {"CPU": 0, "TRAIN_DRIVER": 8} and head["max_workers"] == 0  # drivers only
    workers = {k: v for k, v in fake["available_node_types"].items() if k != fake["head_node_type"]}
    assert set(workers) == set(real["available_node_types"]) - {real["head_node_type"]}  # the same worker types
    assert all(t["min_workers"] == 0 and t["max_workers"] >= 2 for t in workers.values())  # from zero, two nodes
    assert fake["provider"]["module"].endswith("fake_provider.PerNodeDiskProvider")


def test_the_started_config_names_the_head_and_gives_nodes_their_own_disk(tmp_path):
    config = fake_cluster.cluster_config(FAKE, 41234)
    assert config["provider"]["gcs_address"] == "127.0.0.1:41234"
    assert config["provider"]["node_disk_root"].endswith("ray-41234-nodes")
    gpu = {"gpu_node": {"resources": {"CPU": 4, "GPU": 1}, "node_config": {}, "min_workers": 0, "max_workers": 3}}
    config = fake_cluster.cluster_config(FAKE, 41234, worker_types=gpu)
    assert set(config["available_node_types"]) == {"ray.head.default", "gpu_node"} and config["max_workers"] == 3
    check(yaml.safe_load(yaml.safe_dump(config)))


HEAD = Service("ray", 1, "127.0.0.1:1", "", cluster="c" * 32)


def test_the_head_id_is_ray_s_and_cannot_be_killed_as_a_node():
    assert fake_cluster.HEAD_NODE_ID == FAKE_HEAD_NODE_ID
    with pytest.raises(ValueError, match="the head"):
        fake_cluster.kill_node(HEAD, FAKE_HEAD_NODE_ID)
    with pytest.raises(ProcessLookupError, match="no process of node"):
        fake_cluster.kill_node(HEAD, "f" * 51 + "99999")


def test_a_node_is_every_process_carrying_its_id_in_its_own_cluster_and_only_those():
    """Ray numbers fake nodes alike in every cluster: node ...00042 of another cluster on the machine, and another
    node of this one, are left alone."""
    node, other = "f" * 51 + "00042", "f" * 51 + "00043"
    sleep = [sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', "
             "'import time; time.sleep(60)'])"]  # a parent and the child it started, as a raylet and its workers

    def start(node_id: str, cluster: str):
        env = {**os.environ, fake_cluster.NODE_ID_VAR: node_id, CLUSTER_VAR: cluster}
        return subprocess.Popen(sleep, env=env)

    mine, same_id_elsewhere, other_node = start(node, HEAD.cluster), start(node, "d" * 32), start(other, HEAD.cluster)
    procs = (mine, same_id_elsewhere, other_node)
    try:
        deadline = time.monotonic() + 30
        while len(fake_cluster.node_pids(node, HEAD.cluster)) < 2:  # the child inherits both ids
            assert time.monotonic() < deadline
            time.sleep(0.1)
        killed = fake_cluster.kill_node(HEAD, node)
        assert mine.pid in killed and len(killed) == 2
        assert mine.wait(timeout=10) == -signal.SIGKILL
        assert same_id_elsewhere.poll() is None and other_node.poll() is None
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for cluster in (HEAD.cluster, "d" * 32):
            for pid in pids_with_env(CLUSTER_VAR, cluster):
                os.kill(pid, signal.SIGKILL)


def test_stopping_a_head_stops_its_job_drivers_but_no_shell_that_knows_its_address(tmp_path):
    """Ray starts job drivers in sessions of their own: stop() finds them by the cluster's id; a user's shell
    that sourced .padsweep/env (RAY_ADDRESS of the head) is not one of them. The head's scratch folders go too."""
    head = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    scratch = tmp_path / "ray-1"
    scratch.mkdir()
    svc = Service("ray", head.pid, "127.0.0.1:65001", "", cluster="e" * 32, scratch=(str(scratch),))
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    driver = subprocess.Popen(sleeper, env={**os.environ, CLUSTER_VAR: svc.cluster, "RAY_ADDRESS": svc.url},
                              start_new_session=True)
    shell = subprocess.Popen(sleeper, env={**os.environ, "RAY_ADDRESS": svc.url}, start_new_session=True)
    try:
        stop(svc, grace=5)
        assert head.poll() is not None  # stop() reaped it (its own child here, as the services' heads are)
        assert driver.wait(timeout=10) == -signal.SIGTERM
        assert shell.poll() is None and not scratch.exists()
    finally:
        for proc in (head, driver, shell):
            proc.kill()
            proc.wait()
