"""A local Ray head for one machine, bound to loopback, declaring the TRAIN_DRIVER resource."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

from pad_core.integrations.services.base import (
    CLUSTER_VAR,
    HOST,
    LOOPBACK_RAY,
    Service,
    free_port,
    spawn,
    venv_bin,
    wait_http,
)

# Ray's memory monitor counts reclaimable page cache as used memory when the machine's memory cgroup has no limit
# (ray-project/ray#59796): here a local S3 server holding 4.5 GB ViT-B/16 checkpoints filled the cache and Ray
# killed a 6 GB trial at "22.4 of 23.5 GB used" while processes held 9 GB. Off on this single-machine head; the
# kernel's OOM killer still guards real exhaustion. A cluster whose trials die with that message while `free`
# shows memory available can set the same variable on its nodes (docs/RELIABILITY.md).
NO_CACHE_OOM_KILLS = {"RAY_memory_monitor_refresh_ms": "0"}


def start_ray_head(root: Path, *, num_cpus: float | None = None, drivers: int = 8, timeout: float = 120.0,
                   resources: dict[str, float] | None = None, autoscaling_config: Path | None = None,
                   env: dict[str, str] | None = None, log_name: str = "ray-head.log") -> Service:
    """``ray start --head --block``: stopping its process group stops every Ray process it started (with an
    ``autoscaling_config``, the worker nodes its autoscaler started too). ``resources`` replace the default
    ``{"TRAIN_DRIVER": drivers}``; ``env`` is added to the head's (and so every node's) environment."""
    gcs, dash = free_port(), free_port()
    return start_head_on(root, gcs, dash, num_cpus=num_cpus, timeout=timeout, env=env, log_name=log_name,
                         resources={"TRAIN_DRIVER": drivers} if resources is None else resources,
                         autoscaling_config=autoscaling_config)


def head_temp_dir(gcs: int) -> Path:
    """Short (Ray's socket paths must fit in 107 bytes) and one per head: named after its GCS port."""
    return Path(tempfile.gettempdir()) / f"ray-{gcs}"


def start_head_on(root: Path, gcs: int, dash: int, *, num_cpus: float | None, timeout: float,
                  resources: dict[str, float], autoscaling_config: Path | None = None,
                  env: dict[str, str] | None = None, log_name: str = "ray-head.log") -> Service:
    """A head on given ports (the fake cluster writes its GCS port into the autoscaler's config first). Every port
    a head listens on is a free one: with Ray's fixed defaults (dashboard agent 52365, Ray client 10001) a second
    head on this machine starts without its job agent, and `ray job submit` then answers "No available agent".
    Its own temp dir too: a job's driver finds its cluster through ``<temp dir>/ray_current_cluster``, which in
    Ray's shared /tmp/ray names the head started last on the machine, so the job joined another cluster."""
    cmd = [venv_bin("ray"), "start", "--head", "--block", f"--node-ip-address={HOST}", f"--port={gcs}",
           f"--dashboard-host={HOST}", f"--dashboard-port={dash}", "--include-dashboard=true",
           f"--dashboard-agent-listen-port={free_port()}", f"--ray-client-server-port={free_port()}",
           f"--temp-dir={head_temp_dir(gcs)}",
           "--disable-usage-stats", f"--resources={json.dumps(resources)}"]
    if num_cpus is not None:
        cmd.append(f"--num-cpus={num_cpus:g}")
    if autoscaling_config is not None:
        cmd.append(f"--autoscaling-config={autoscaling_config}")
    log = root.resolve() / "logs" / log_name
    cluster = uuid.uuid4().hex
    pid = spawn(cmd, log, {**LOOPBACK_RAY, **NO_CACHE_OOM_KILLS, **(env or {}), CLUSTER_VAR: cluster})
    temp = head_temp_dir(gcs)
    svc = Service("ray", pid, f"{HOST}:{gcs}", str(log), f"http://{HOST}:{dash}", cluster,
                  (str(temp), f"{temp}-nodes"))
    wait_http(f"{svc.dashboard}/api/version", timeout, svc)
    return svc
