"""A local Ray head for one machine, bound to loopback, declaring the TRAIN_DRIVER resource."""

from __future__ import annotations

import json
from pathlib import Path

from pad_core.integrations.services.base import HOST, LOOPBACK_RAY, Service, free_port, spawn, venv_bin, wait_http

# Ray's memory monitor counts reclaimable page cache as used memory when the machine's memory cgroup has no limit
# (ray-project/ray#59796): here a local S3 server holding 4.5 GB ViT-B/16 checkpoints filled the cache and Ray
# killed a 6 GB trial at "22.4 of 23.5 GB used" while processes held 9 GB. Off on this single-machine head; the
# kernel's OOM killer still guards real exhaustion. A cluster whose trials die with that message while `free`
# shows memory available can set the same variable on its nodes (docs/RELIABILITY.md).
NO_CACHE_OOM_KILLS = {"RAY_memory_monitor_refresh_ms": "0"}


def start_ray_head(root: Path, *, num_cpus: int | None = None, drivers: int = 8, timeout: float = 120.0) -> Service:
    """``ray start --head --block``: stopping its process group stops every Ray process it started."""
    gcs, dash = free_port(), free_port()
    cmd = [venv_bin("ray"), "start", "--head", "--block", f"--node-ip-address={HOST}", f"--port={gcs}",
           f"--dashboard-host={HOST}", f"--dashboard-port={dash}", "--include-dashboard=true",
           "--disable-usage-stats", f"--resources={json.dumps({'TRAIN_DRIVER': drivers})}"]
    if num_cpus:
        cmd.append(f"--num-cpus={num_cpus}")
    log = root.resolve() / "logs" / "ray-head.log"
    pid = spawn(cmd, log, {**LOOPBACK_RAY, **NO_CACHE_OOM_KILLS})
    svc = Service("ray", pid, f"{HOST}:{gcs}", str(log), f"http://{HOST}:{dash}")
    wait_http(f"{svc.dashboard}/api/version", timeout, svc)
    return svc
