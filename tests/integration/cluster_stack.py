"""A fake autoscaling multi-node Ray cluster (cluster/fake_local.yaml), a real MLflow server and a real S3 server
(SeaweedFS) on 127.0.0.1, for the cluster tests. MLflow and S3 outlive the Ray cluster, as they would a real one:
the cluster can be torn down and started again (new ports) under the same record and storage.

Sweeps reach it as a user does: ``ray job submit --working-dir <repo> -- python sweeps/rows.py ...`` against the
head's dashboard, credentials and addresses in the job's runtime env.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import s3fs

from pad_core.integrations import services
from pad_core.integrations.services.fake_cluster import HEAD_NODE_ID

ROOT = Path(__file__).resolve().parents[2]


class FakeStack:
    """Started by the project's own command, ``services up --fake-cluster --s3`` (what a user runs); a later
    cluster (``start_ray``: after a teardown, or with other worker types) by the same function it calls."""

    def __init__(self, root: Path):
        self.root, self.attempt = root, 0
        state = root / "services"
        subprocess.run([sys.executable, "-m", "pad_core.integrations.services", "up", "--root", str(state),
                        "--fake-cluster", "--s3"], cwd=ROOT, check=True, capture_output=True, text=True, timeout=300)
        self.state = state
        started = {k: services.Service(**v) for k, v in json.loads((state / "services.json").read_text()).items()}
        self.s3, self.mlflow, self.ray = started["s3"], started["mlflow"], started["ray"]
        env = dict(line.removeprefix("export ").split("=", 1) for line in (state / "env").read_text().splitlines())
        self.s3_env = {k: v for k, v in env.items() if k.startswith(("AWS_", "MLFLOW_S3_"))}
        self.storage = env["PADSWEEP_STORAGE"]

    def start_ray(self, worker_types: dict | None = None) -> None:
        """A new cluster in place of the current one (stopped first if it still runs)."""
        if self.ray is not None:
            services.stop(self.ray)
        self.attempt += 1
        self.ray = services.start_fake_cluster(self.root / f"ray{self.attempt}", worker_types=worker_types)

    def tear_down_ray(self) -> None:
        """The whole cluster gone at once (every node, the job's driver): SIGKILL to all of it."""
        services.stop(self.ray, abrupt=True)

    def close(self) -> None:
        if self.ray is not None:
            services.stop(self.ray)  # a cluster started after `up` is not in its state file
        subprocess.run([sys.executable, "-m", "pad_core.integrations.services", "down", "--root", str(self.state)],
                       cwd=ROOT, check=True, timeout=120)
        assert not any(svc.alive() for svc in (self.s3, self.mlflow, self.ray) if svc is not None)

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


@contextlib.contextmanager
def fake_stack(root: Path) -> Iterator[FakeStack]:
    """A FakeStack for a test module, stopped however the module ends."""
    stack = FakeStack(root)
    try:
        yield stack
    finally:
        stack.close()


def worker_ids(nodes_tag: str) -> list[str]:
    """The node ids of a run's ``pad.nodes`` tag, refusing the head (trials must train on worker nodes)."""
    ids = [n for n in nodes_tag.split(",") if n]
    assert ids and HEAD_NODE_ID not in ids, nodes_tag
    return ids
