"""Every cluster YAML validated offline with Ray's own schema and config preparation (typos and impossible
worker counts must fail), plus the project's invariants: TRAIN_DRIVER on the head, token auth, shm, no secrets."""

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"
SCHEMA = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
FAKE = CLUSTER / "fake_local.yaml"  # started by the services command, not `ray up`: tests/unit/test_fake_cluster.py
CONFIGS = sorted(p for p in CLUSTER.glob("*.yaml") if p != FAKE)  # what `ray up` deploys


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def check(config: dict) -> dict:
    jsonschema.validate(config, SCHEMA)  # unknown or misspelt keys
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)  # cross-field rules on the prepared config
    return prepared


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_cluster_config_is_valid(path):
    config = load(path)
    check(config)
    start = " ".join(config["head_start_ray_commands"])
    assert "TRAIN_DRIVER" in start and "RAY_AUTH_MODE=token" in start
    assert any("--shm-size" in opt for opt in config["docker"]["run_options"])
    assert not config.get("setup_commands"), "dependencies belong in the image, not in per-node installs"
    text = path.read_text()
    assert not re.search(r"AKIA[0-9A-Z]{16}|aws_secret_access_key|MLFLOW_TRACKING_PASSWORD", text, re.I)


@pytest.mark.parametrize("path", [p for p in CONFIGS if load(p)["provider"]["type"] != "local"],
                         ids=lambda p: p.name)
def test_gpu_workers_autoscale_from_zero(path):
    config = load(path)
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"]["TRAIN_DRIVER"] >= 1 and head["max_workers"] == 0
    gpus = [t for name, t in config["available_node_types"].items() if name != config["head_node_type"]]
    assert gpus and all(t["min_workers"] == 0 for t in gpus)


def test_a_typo_fails():
    config = load(CLUSTER / "a100.yaml")
    config["available_node_types"]["gpu_a100"]["min_worker"] = 1
    with pytest.raises(jsonschema.ValidationError, match="min_worker"):
        check(config)


def test_impossible_worker_counts_fail():
    config = load(CLUSTER / "a100.yaml")
    config["available_node_types"]["gpu_a100"]["min_workers"] = 6  # more than max_workers=4 allows
    with pytest.raises(ValueError, match="max_workers"):
        check(config)


def test_a_head_type_that_does_not_exist_fails():
    config = load(CLUSTER / "a2_gcp.yaml")
    config["head_node_type"] = "cpu_head"
    with pytest.raises(ValueError, match="head_node_type"):
        check(config)


PUBLIC = ("0.0.0.0/0", "::/0")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_no_dashboard_or_mlflow_port_is_opened_to_the_internet(path):
    """What the YAML controls: no public addresses, no security group Ray would create (its default admits SSH
    from 0.0.0.0/0), no world-open rule, no published container port, no MLflow server bound to every interface,
    and on a LAN cluster (no cloud firewall) the dashboard on loopback, reached through `ray dashboard`'s tunnel."""
    config, text = load(path), path.read_text()
    kind = config["provider"]["type"]
    nodes = [t["node_config"] for t in config.get("available_node_types", {}).values()]
    assert not any(cidr in text for cidr in PUBLIC), "a rule open to the whole internet"
    assert not any(re.match(r"(-p|--publish)\b", opt) for opt in config["docker"]["run_options"])
    assert not re.search(r"mlflow (server|ui)[^\n]*--host[ =](0\.0\.0\.0|::)", text)
    if kind == "aws":
        assert config["provider"]["use_internal_ips"] is True
        for node in nodes:
            assert node.get("SecurityGroupIds"), "without it Ray creates a group admitting SSH from 0.0.0.0/0"
            assert not any(ni.get("AssociatePublicIpAddress") for ni in node.get("NetworkInterfaces", []))
    elif kind == "gcp":
        assert config["provider"]["use_internal_ips"] is True
        for node in nodes:  # without networkInterfaces Ray adds an external IP (ONE_TO_ONE_NAT) to every node
            assert node.get("networkInterfaces") and not any(ni.get("accessConfigs")
                                                             for ni in node["networkInterfaces"])
    else:
        assert all("--dashboard-host=127.0.0.1" in cmd for cmd in config["head_start_ray_commands"][1:])


def test_the_port_check_catches_a_world_open_rule_and_a_public_ip(tmp_path):
    aws = load(CLUSTER / "a100.yaml")
    aws["available_node_types"]["head"]["node_config"].pop("SecurityGroupIds")
    gcp = load(CLUSTER / "a2_gcp.yaml")
    gcp["available_node_types"]["head"]["node_config"]["networkInterfaces"][0]["accessConfigs"] = [
        {"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]
    lan = CLUSTER.joinpath("local.yaml").read_text().replace("--dashboard-host=127.0.0.1", "--dashboard-host=0.0.0.0")
    for name, bad in (("aws.yaml", yaml.safe_dump(aws)), ("gcp.yaml", yaml.safe_dump(gcp)), ("local.yaml", lan)):
        (tmp_path / name).write_text(bad)
        with pytest.raises(AssertionError):
            test_no_dashboard_or_mlflow_port_is_opened_to_the_internet(tmp_path / name)
