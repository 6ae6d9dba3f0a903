"""Local services started and stopped by PID: a Ray head and an MLflow tracking server, on loopback only.

Each service runs in its own process session, so stopping it (SIGTERM, then SIGKILL for stragglers)
reaches every process it started and nothing else on the machine (never ``ray stop``).

    python -m pad_core.integrations.services up --root .padsweep     # writes .padsweep/env
    python -m pad_core.integrations.services down --root .padsweep
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

HOST = "127.0.0.1"
# Ray rewrites --node-ip-address=127.0.0.1 to the routable IP and its gRPC servers then listen on every
# interface. In single-node mode (this flag, read by ray._private.services) the node IP is loopback and
# every Ray listener binds to 127.0.0.1. Clients on this machine need the same value.
LOOPBACK_RAY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass
class Service:
    name: str
    pid: int
    url: str  # what clients connect to
    log: str
    dashboard: str = ""  # Ray only: the dashboard / job-submission address

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _spawn(name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **NO_TELEMETRY, **(env or {})})
    return proc.pid


def wait_http(url: str, timeout: float, service: Service | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service and not service.alive():
            raise RuntimeError(f"{service.name} exited during start-up; see {service.log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def start_mlflow(root: Path, port: int = 0, timeout: float = 120.0) -> Service:
    """sqlite backend, local artifact root, loopback, one worker, job execution off (platform.md)."""
    root = root.resolve()
    port = port or free_port()
    (root / "mlflow-artifacts").mkdir(parents=True, exist_ok=True)
    cmd = [_bin("mlflow"), "server", "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
           "--artifacts-destination", str(root / "mlflow-artifacts"), "--host", HOST, "--port", str(port),
           "--workers", "1"]
    log = root / "logs" / "mlflow.log"
    svc = Service("mlflow", _spawn("mlflow", cmd, log, {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}),
                  f"http://{HOST}:{port}", str(log))
    wait_http(f"{svc.url}/health", timeout, svc)
    return svc


def start_ray_head(root: Path, *, num_cpus: int | None = None, drivers: int = 8, timeout: float = 120.0) -> Service:
    """``ray start --head --block`` bound to loopback, declaring the TRAIN_DRIVER resource."""
    gcs, dash = free_port(), free_port()
    cmd = [_bin("ray"), "start", "--head", "--block", f"--node-ip-address={HOST}", f"--port={gcs}",
           f"--dashboard-host={HOST}", f"--dashboard-port={dash}", "--include-dashboard=true",
           "--disable-usage-stats", f"--resources={json.dumps({'TRAIN_DRIVER': drivers})}"]
    if num_cpus:
        cmd.append(f"--num-cpus={num_cpus}")
    log = root.resolve() / "logs" / "ray-head.log"
    svc = Service("ray", _spawn("ray", cmd, log, LOOPBACK_RAY), f"{HOST}:{gcs}", str(log), f"http://{HOST}:{dash}")
    wait_http(f"{svc.dashboard}/api/version", timeout, svc)
    return svc


def stop(service: Service, grace: float = 15.0) -> None:
    """SIGTERM the service's process group, then SIGKILL whatever is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(service.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(service.pid):
            service.alive()  # reaps the leader once it exits, so the group can empty
            time.sleep(0.2)
        if not _group_alive(service.pid):
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _state_file(root: Path) -> Path:
    return root / "services.json"


def up(root: Path, num_cpus: int | None) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    mlflow_svc = start_mlflow(root)
    ray_svc = start_ray_head(root, num_cpus=num_cpus)
    services = {"mlflow": asdict(mlflow_svc), "ray": asdict(ray_svc)}
    _state_file(root).write_text(json.dumps(services, indent=2))
    env = {"MLFLOW_TRACKING_URI": mlflow_svc.url, "RAY_ADDRESS": ray_svc.url,
           "RAY_API_SERVER_ADDRESS": ray_svc.dashboard, **LOOPBACK_RAY}
    (root / "env").write_text("".join(f"export {k}={v}\n" for k, v in env.items()))
    return env


def down(root: Path) -> None:
    state = _state_file(root)
    if not state.is_file():
        return
    for info in json.loads(state.read_text()).values():
        stop(Service(**info))
    state.unlink()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("up", "down", "mlflow"))
    p.add_argument("--root", type=Path, default=Path(".padsweep"), help="state, logs, sqlite db and artifacts")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs the Ray head offers (default: all)")
    p.add_argument("--port", type=int, default=0, help="mlflow action: port (default: a free one)")
    args = p.parse_args(argv)
    if args.action == "up":
        down(args.root)
        for k, v in up(args.root, args.num_cpus).items():
            print(f"{k}={v}")
    elif args.action == "down":
        down(args.root)
    else:
        svc = start_mlflow(args.root, args.port)
        print(f"MLflow {svc.url} (pid {svc.pid}, log {svc.log})")


if __name__ == "__main__":
    main()
