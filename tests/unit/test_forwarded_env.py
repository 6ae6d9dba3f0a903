"""What a sweep's Ray job carries to its trials: credentials and endpoints, and Ray Train's start-up timeout."""

import json

from pad_core.integrations.cluster import TRAIN_DEFAULTS, forwarded_env


def test_train_start_timeout_travels_unless_set_elsewhere(monkeypatch):
    monkeypatch.delenv("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    env = forwarded_env()
    assert env["RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"] == TRAIN_DEFAULTS["RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    monkeypatch.setenv("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "900")  # the user's value wins
    assert forwarded_env()["RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"] == "900"
    job = {"runtime_env": {"env_vars": {"RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "30", "AWS_ENDPOINT_URL": "x"}}}
    from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR

    monkeypatch.setenv(RAY_JOB_CONFIG_JSON_ENV_VAR, json.dumps(job))
    assert "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S" not in forwarded_env()  # the job's own env already has them
    assert "AWS_ENDPOINT_URL" not in forwarded_env()
