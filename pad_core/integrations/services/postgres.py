"""A throwaway PostgreSQL server on loopback (Debian's ``postgresql`` binaries), for tests and local trials.

PostgreSQL refuses to run as root, so under root it runs as the ``postgres`` user with its data in a private
directory that user owns. Local connections are trusted (loopback only); a lab server uses passwords
(see mlflow_server/README.md).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pad_core.integrations.services.base import HOST, Service, free_port, spawn


def pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if not initdb:
        raise FileNotFoundError("PostgreSQL binaries not found; install Debian's postgresql (scripts/setup_system.sh)")
    return Path(initdb).resolve().parent


def _owned_dir(user: str | None) -> Path:
    path = Path(tempfile.mkdtemp(prefix="padsweep-pg-"))
    path.chmod(0o755)
    if user:
        shutil.chown(path, user, user)
    return path


def start_postgres(root: Path, port: int = 0, database: str = "mlflow", timeout: float = 60.0) -> Service:
    """initdb + postgres on 127.0.0.1; returns a Service whose url is the SQLAlchemy URI of ``database``."""
    bindir, user = pg_bindir(), ("postgres" if os.geteuid() == 0 else None)
    port = port or free_port()
    base = _owned_dir(user)
    data, sock = base / "data", base / "sock"
    for d in (data, sock):
        subprocess.run(["mkdir", "-p", str(d)], check=True, user=user)
    subprocess.run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, user=user)
    cmd = [str(bindir / "postgres"), "-D", str(data), "-h", HOST, "-p", str(port), "-k", str(sock)]
    svc = Service("postgres", spawn(cmd, root.resolve() / "logs" / "postgres.log", user=user),
                  f"postgresql+psycopg2://postgres@{HOST}:{port}/{database}", str(root / "logs" / "postgres.log"),
                  scratch=(str(base),))
    _wait_ready(bindir, port, timeout, svc)
    subprocess.run([str(bindir / "createdb"), "-h", HOST, "-p", str(port), "-U", "postgres", database], check=True)
    return svc


def _wait_ready(bindir: Path, port: int, timeout: float, svc: Service) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not svc.alive():
            raise RuntimeError(f"postgres exited during start-up; see {svc.log}")
        ready = subprocess.run([str(bindir / "pg_isready"), "-h", HOST, "-p", str(port)], capture_output=True)
        if ready.returncode == 0:
            return
        time.sleep(0.3)
    raise TimeoutError(f"postgres on port {port} not ready within {timeout:.0f}s")
