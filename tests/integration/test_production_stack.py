"""The lab setup, for real: MLflow on PostgreSQL with artifacts proxied to S3 (SeaweedFS) and basic auth; a smoke
sweep whose data manifest, images, checkpoints and Tune state all live on S3; everything on loopback."""

import base64
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import s3fs
from mlflow.tracking import MlflowClient

from pad_core.data.synthetic import materialize
from pad_core.integrations import services
from pad_core.integrations.services.base import environ
from tests.integration.conftest import ROOT, run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.mlflow]
KEY, SECRET, ADMIN_PASSWORD = "padsweep-key", "padsweep-secret-key", "admin-pass-for-tests-only"
AUTH = {"MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD, "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret-key"}


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    root = tmp_path_factory.mktemp("prod")
    started = []
    try:
        pg = services.start_postgres(root)
        started.append(pg)
        s3 = services.start_seaweedfs(root, KEY, SECRET, buckets=("mlflow", "padsweep"))
        started.append(s3)
        s3env = services.s3_env(s3, KEY, SECRET)
        t0 = time.monotonic()
        with environ({**s3env, **AUTH}):
            mlflow_svc = services.start_mlflow(root, backend_uri=pg.url, artifacts_destination="s3://mlflow/artifacts",
                                               auth=True, auth_db=pg.url)
        started.append(mlflow_svc)
        print(f"\n[prod stack] MLflow on Postgres+S3 with auth healthy after {time.monotonic() - t0:.1f}s")
        yield {"mlflow": mlflow_svc.url, "s3env": s3env}
    finally:
        for svc in reversed(started):
            services.stop(svc)


def test_unauthenticated_requests_are_refused(prod):
    url = f"{prod['mlflow']}/api/2.0/mlflow/experiments/search?max_results=1"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=10)
    assert err.value.code == 401


def test_wrong_password_requests_are_refused(prod):
    url = f"{prod['mlflow']}/api/2.0/mlflow/experiments/search?max_results=1"
    request = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(
        b"admin:not-the-password").decode()})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 401


def test_smoke_sweep_over_postgres_and_s3(stack, prod):
    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, client_kwargs={"endpoint_url": prod["s3env"]["AWS_ENDPOINT_URL"]})
    local = os.path.dirname(materialize("synthetic:iris", scale=0.01, size=32, seed=0))
    fs.put(local, "padsweep/data/iris", recursive=True)
    login = {"MLFLOW_TRACKING_URI": prod["mlflow"], "MLFLOW_TRACKING_USERNAME": "admin",
             "MLFLOW_TRACKING_PASSWORD": ADMIN_PASSWORD}
    env = {**stack, "env": {**stack["env"], **prod["s3env"], **login}}
    # --keep-checkpoints: finished cells delete theirs by default; here they stay to show where they landed
    args = ("--smoke-test", "--data", "s3://padsweep/data/iris/manifest.csv", "--storage", "s3://padsweep/ray",
            "--sweep-name", "prod-smoke", "--keep-checkpoints")
    t0 = time.monotonic()
    out = run_sweep(env, "mask_rates.py", *args).stdout
    took = time.monotonic() - t0
    print(f"\n[prod stack] smoke sweep over Postgres + S3 (data, checkpoints, Tune state): {took:.1f}s")
    with environ(login):
        client = MlflowClient(prod["mlflow"])
        exp = client.get_experiment_by_name("padsweep")
        runs = client.search_runs([exp.experiment_id], "tags.`pad.sweep` = 'prod-smoke'")
    children = [r for r in runs if r.data.tags.get("pad.kind") != "sweep-parent"]
    assert len(children) == 2 and all(r.data.tags["pad.outcome"] == "completed" for r in children)
    assert all("test/p1/acer" in r.data.metrics for r in children)
    assert all(r.data.params["data.manifest"].startswith("s3://") for r in children)
    assert fs.find("mlflow/artifacts"), "artifacts must be proxied to S3"
    assert any("/table.md" in p for p in fs.find("mlflow/artifacts")) and any("scores.csv" in p for p in
                                                                               fs.find("mlflow/artifacts"))
    # single-worker cells checkpoint into their own folder under the sweep's storage (cell_checkpoints.py)
    assert any("/cells/" in p and "/ckpt-" in p for p in fs.find("padsweep/ray")), "checkpoints must land on S3"
    assert any("experiment_state" in p for p in fs.find("padsweep/ray/prod-smoke")), "Tune state must land on S3"
    assert "Rate 1" in out
    again = run_sweep(env, "mask_rates.py", *args)
    assert "2 cells, 2 already finished in MLflow, 0 to run" in again.stdout
    assert_no_secrets(runs, client, login, [out, again.stdout, again.stderr])


def assert_no_secrets(runs, client: MlflowClient, login: dict[str, str], logs: list[str]) -> None:
    """The S3 secret and the MLflow password the sweep was given appear in no param, tag, text artifact or log."""
    secrets = (SECRET, ADMIN_PASSWORD)
    texts = [*logs]
    for run in runs:
        texts += [*run.data.params.values(), *run.data.tags.values()]
    parent = next(r for r in runs if r.data.tags.get("pad.kind") == "sweep-parent")
    with environ(login), tempfile.TemporaryDirectory() as tmp:
        for name in ("table.md", "table.tex", "table.csv"):
            with open(client.download_artifacts(parent.info.run_id, name, tmp)) as fh:
                texts.append(fh.read())
    leaked = [s for s in secrets if any(s in t for t in texts)]
    assert not leaked, f"secrets leaked into MLflow or the logs: {len(leaked)}"


def test_wrong_s3_credentials_are_refused_before_any_trial(stack, prod):
    env = {**stack["env"], **prod["s3env"], "AWS_SECRET_ACCESS_KEY": "wrong-secret",
           "MLFLOW_TRACKING_URI": prod["mlflow"]}
    cmd = [sys.executable, str(ROOT / "sweeps/mask_rates.py"), "--smoke-test", "--data",
           "s3://padsweep/data/iris/manifest.csv", "--sweep-name", "prod-wrong-s3"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "s3://padsweep/data/iris/manifest.csv" in proc.stderr and "AWS_SECRET_ACCESS_KEY" in proc.stderr


def test_server_cli_prints_url_and_refuses_auth_without_secrets(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pad_core.integrations.services", "mlflow", "--root", str(tmp_path),
                           "--auth"], cwd=ROOT, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k not in AUTH})
    assert proc.returncode != 0 and "MLFLOW_AUTH_ADMIN_PASSWORD" in proc.stderr
