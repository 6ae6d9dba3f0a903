"""Process plumbing for local services: spawn in a new session, wait for health, stop by process group.

Each service runs in its own process session, so stopping it (SIGTERM, then SIGKILL for stragglers)
reaches every process it started and nothing else on the machine (never ``ray stop``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
# Ray rewrites --node-ip-address=127.0.0.1 to the routable IP and its gRPC servers then listen on every
# interface. In single-node mode (this flag, read by ray._private.services) the node IP is loopback and
# every Ray listener binds to 127.0.0.1. Clients on this machine need the same value.
# Ray 2.60 also turns token auth on by itself whenever ~/.ray/auth_token exists (any earlier local `ray.init()`
# writes one), and the head's HTTP API then answers 401 to the health probe and to `ray job submit`. The local
# head listens on loopback only, so its mode is set, not inherited from the machine's history. Clusters use
# token auth (cluster/*.yaml).
LOOPBACK_RAY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
CLUSTER_VAR = "PADSWEEP_CLUSTER"  # set on a Ray head at start: every process of its cluster inherits it
NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass
class Service:
    name: str
    pid: int
    url: str  # what clients connect to
    log: str
    dashboard: str = ""  # Ray only: the dashboard / job-submission address
    cluster: str = ""  # Ray only: the head's CLUSTER_VAR value, inherited by every process of its cluster
    scratch: tuple[str, ...] = ()  # folders and files the service writes outside ``root`` (removed once stopped)
    control: str = ""  # SeaweedFS only: its master's HTTP address (``s3.vacuum``)

    def alive(self) -> bool:
        try:
            if os.waitpid(self.pid, os.WNOHANG)[0] == self.pid:  # our child has exited: reap it
                return False
        except ChildProcessError:  # not our child (started by another process): probe it
            pass
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False


@contextlib.contextmanager
def environ(extra: dict[str, str]):
    """Set environment variables for the duration of a block, then restore (or remove) them."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def venv_bin(name: str) -> str:
    """An executable installed next to this Python (the project venv)."""
    return str(Path(sys.executable).with_name(name))


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, user: str | None = None) -> int:
    """Start ``cmd`` in a new process session (as ``user`` when given), output to ``log``; return its PID."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, user=user,
                                env={**os.environ, **NO_TELEMETRY, **(env or {})})
    return proc.pid


def wait_http(url: str, timeout: float, service: Service | None = None) -> None:
    """Wait for a 200 from ``url``; a service that does not come up is stopped (nothing left running)."""
    deadline, answer = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        if service and not service.alive():
            raise RuntimeError(f"{service.name} exited during start-up; see {service.log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError as err:  # not listening yet; or an HTTP error such as 401 (it runs, but not as asked)
            answer = f"HTTP {err.code}" if isinstance(err, urllib.error.HTTPError) else answer
            time.sleep(0.5)
    if service:
        stop(service)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s (last: {answer})"
                       + (f"; see {service.log}" if service else ""))


def stop(service: Service, grace: float = 15.0, abrupt: bool = False) -> None:
    """SIGTERM the service's process group and its strays, then SIGKILL whatever is left after ``grace`` seconds
    (``abrupt``: SIGKILL at once, a host that is gone)."""
    for sig, wait in ((signal.SIGKILL, 5.0),) if abrupt else ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        strays = _strays(service)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, sig)
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (_group_alive(service.pid) or _strays(service)):
            service.alive()  # reaps the leader once it exits, so the group can empty
            time.sleep(0.2)
        if not _group_alive(service.pid) and not _strays(service):
            break
    for path in service.scratch:  # Ray's temp dirs (sockets, logs, node disks): gigabytes over many starts
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def _strays(service: Service) -> list[int]:
    """Processes of the service outside its process group: a Ray head's job drivers, which Ray starts in
    sessions of their own (they would outlive the cluster, holding the sweep's lease and writing to MLflow). Found
    by the cluster's own id in their environment, which no shell of the user's carries (``RAY_ADDRESS`` would
    match every shell that sourced .padsweep/env)."""
    return pids_with_env(CLUSTER_VAR, service.cluster) if service.cluster else []


def pids_with_env(name: str, value: str) -> list[int]:
    """PIDs of this machine's processes whose environment has ``name=value`` (inherited by their children)."""
    marker = f"\0{name}={value}\0".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in b"\0" + (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


