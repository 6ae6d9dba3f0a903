"""A local Ray head for one machine, bound to loopback, declaring the TRAIN_DRIVER resource."""

from __future__ import annotations

import json
from pathlib import Path

from pad_core.integrations.services.base import HOST, LOOPBACK_RAY, Service, free_port, spawn, venv_bin, wait_http


def start_ray_head(root: Path, *, num_cpus: int | None = None, drivers: int = 8, timeout: float = 120.0) -> Service:
    """``ray start --head --block``: stopping its process group stops every Ray process it started."""
    gcs, dash = free_port(), free_port()
    cmd = [venv_bin("ray"), "start", "--head", "--block", f"--node-ip-address={HOST}", f"--port={gcs}",
           f"--dashboard-host={HOST}", f"--dashboard-port={dash}", "--include-dashboard=true",
           "--disable-usage-stats", f"--resources={json.dumps({'TRAIN_DRIVER': drivers})}"]
    if num_cpus:
        cmd.append(f"--num-cpus={num_cpus}")
    log = root.resolve() / "logs" / "ray-head.log"
    svc = Service("ray", spawn(cmd, log, LOOPBACK_RAY), f"{HOST}:{gcs}", str(log), f"http://{HOST}:{dash}")
    wait_http(f"{svc.dashboard}/api/version", timeout, svc)
    return svc
