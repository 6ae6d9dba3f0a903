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
CONFIGS = sorted(CLUSTER.glob("*.yaml"))


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
