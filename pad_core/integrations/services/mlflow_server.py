"""The MLflow tracking server, as a lab runs it.

Development (default): sqlite backend, local artifact root, 127.0.0.1, one worker, job execution off.
Production: ``backend_uri=postgresql://...``, ``artifacts_destination=s3://bucket/prefix`` (the server proxies
artifact traffic, so only it needs S3 credentials, from its environment), ``auth=True`` (basic auth; the
admin password and Flask secret key come from the environment, never from the repo) and ``allowed_hosts``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pad_core.integrations.services.base import HOST, Service, free_port, spawn, venv_bin, wait_http

AUTH_ENV = ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY")


def _auth_config(root: Path, database_uri: str) -> Path:
    """basic-auth settings file: users and permissions live in ``database_uri``; new runs are readable by all users."""
    path = root / "basic_auth.ini"
    path.write_text("[mlflow]\ndefault_permission = READ\n"
                    f"database_uri = {database_uri}\nadmin_username = admin\n"
                    "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    return path


def _auth_env(root: Path, auth_db: str | None) -> dict[str, str]:
    missing = [k for k in AUTH_ENV if not os.environ.get(k)]
    if missing:
        raise RuntimeError(f"basic auth needs {missing} in the environment (never in the repository)")
    return {"MLFLOW_AUTH_CONFIG_PATH": str(_auth_config(root, auth_db or f"sqlite:///{root}/basic_auth.db"))}


def mlflow_command(root: Path, port: int, *, backend_uri: str | None, artifacts_destination: str | None,
                   auth: bool, allowed_hosts: str | None) -> list[str]:
    cmd = [venv_bin("mlflow"), "server", "--backend-store-uri", backend_uri or f"sqlite:///{root}/mlflow.db",
           "--artifacts-destination", artifacts_destination or str(root / "mlflow-artifacts"),
           "--host", HOST, "--port", str(port), "--workers", "1"]
    if auth:
        cmd += ["--app-name", "basic-auth"]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    return cmd


def start_mlflow(root: Path, port: int = 0, *, backend_uri: str | None = None, artifacts_destination: str | None = None,
                 auth: bool = False, auth_db: str | None = None, allowed_hosts: str | None = None,
                 timeout: float = 120.0) -> Service:
    """Start the server and wait for ``/health`` (8-45 s here; platform.md)."""
    root = root.resolve()
    (root / "mlflow-artifacts").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(_auth_env(root, auth_db) if auth else {})}
    cmd = mlflow_command(root, port, backend_uri=backend_uri, artifacts_destination=artifacts_destination, auth=auth,
                         allowed_hosts=allowed_hosts)
    log = root / "logs" / "mlflow.log"
    svc = Service("mlflow", spawn(cmd, log, env), f"http://{HOST}:{port}", str(log))
    wait_http(f"{svc.url}/health", timeout, svc)
    return svc
