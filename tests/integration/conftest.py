"""A real local Ray head and a real MLflow server on 127.0.0.1, shared by the integration tests.

Both are started by PID in their own process sessions and stopped the same way at the end.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pad_core.integrations import services

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    mlflow_svc = services.start_mlflow(root)
    try:
        ray_svc = services.start_ray_head(root, num_cpus=2)
    except Exception:
        services.stop(mlflow_svc)
        raise
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_svc.url, "RAY_ADDRESS": ray_svc.url, **services.LOOPBACK_RAY,
           "PADSWEEP_STORAGE": str(root / "ray_results"), "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    yield {"env": env, "mlflow": mlflow_svc.url, "root": root}
    services.stop(ray_svc)
    services.stop(mlflow_svc)
    assert not ray_svc.alive() and not mlflow_svc.alive()


def run_sweep(stack, file: str, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "sweeps" / file), *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=stack["env"], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{file} {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc
