"""A fake autoscaling multi-node Ray cluster (cluster/fake_local.yaml), a real MLflow server and a real S3 server
(SeaweedFS) on 127.0.0.1, for the cluster tests. MLflow and S3 outlive the Ray cluster, as they would a real one:
the cluster can be torn down and started again (new ports) under the same record and storage.

Sweeps reach it as a user does: ``ray job submit --working-dir <repo> -- python sweeps/rows.py ...`` against the
head's dashboard, credentials and addresses in the job's runtime env.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import s3fs

from pad_core.integrations import services
from pad_core.integrations.services.fake_cluster import HEAD_NODE_ID

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "padsweep"


class FakeStack:
    def __init__(self, root: Path):
        self.root, self.attempt, self.ray = root, 0, None
        key, secret = f"padsweep-{secrets.token_hex(3)}", secrets.token_urlsafe(18)
        self.s3 = services.start_seaweedfs(root / "s3", key, secret, buckets=(BUCKET,))
        self.s3_env = services.s3_env(self.s3, key, secret)
        self.mlflow = services.start_mlflow(root / "mlflow")
        self.storage = f"s3://{BUCKET}/ray"

    def start_ray(self, worker_types: dict | None = None) -> None:
        self.attempt += 1
        self.ray = services.start_fake_cluster(self.root / f"ray{self.attempt}", worker_types=worker_types)

    def tear_down_ray(self) -> None:
        """The whole cluster gone at once (every node, the job's driver): SIGKILL to the head's process group."""
        os.killpg(self.ray.pid, signal.SIGKILL)
        services.stop(self.ray)

    def close(self) -> None:
        for svc in (self.ray, self.mlflow, self.s3):
            if svc is not None:
                services.stop(svc)

    @property
    def job_env(self) -> dict[str, str]:
        """What the sweep's processes need, as a user passes it: ``--runtime-env-json '{"env_vars": ...}'``."""
        return {"MLFLOW_TRACKING_URI": self.mlflow.url, "PADSWEEP_STORAGE": self.storage, **self.s3_env,
                "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}

    @property
    def client_env(self) -> dict[str, str]:
        return {**os.environ, **services.LOOPBACK_RAY, "RAY_ADDRESS": self.ray.url,
                "RAY_API_SERVER_ADDRESS": self.ray.dashboard}

    def submit_command(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).with_name("ray")), "job", "submit", "--address", self.ray.dashboard,
                "--working-dir", str(ROOT), "--runtime-env-json", json.dumps({"env_vars": self.job_env}),
                "--", "python", "sweeps/rows.py", *args]

    def submit(self, *args: str, timeout: int = 900) -> str:
        proc = subprocess.run(self.submit_command(*args), cwd=ROOT, env=self.client_env, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"job failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-3000:]}")
        return proc.stdout

    def submit_async(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.submit_command(*args), cwd=ROOT, env=self.client_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def worker_nodes(self) -> set[str]:
        return {node for node, head in services.alive_nodes(self.ray.dashboard).items() if not head}

    def wait_scaled_in(self, timeout: float = 120) -> float:
        """Seconds until no worker node is left (the autoscaler removed the idle ones)."""
        started = time.monotonic()
        while self.worker_nodes():
            assert time.monotonic() - started < timeout, f"workers still up after {timeout:.0f}s"
            time.sleep(1)
        return time.monotonic() - started

    def filesystem(self) -> s3fs.S3FileSystem:
        return s3fs.S3FileSystem(key=self.s3_env["AWS_ACCESS_KEY_ID"], secret=self.s3_env["AWS_SECRET_ACCESS_KEY"],
                                 client_kwargs={"endpoint_url": self.s3.url})


def worker_ids(nodes_tag: str) -> list[str]:
    """The node ids of a run's ``pad.nodes`` tag, refusing the head (trials must train on worker nodes)."""
    ids = [n for n in nodes_tag.split(",") if n]
    assert ids and HEAD_NODE_ID not in ids, nodes_tag
    return ids
