"""Command line for the local services (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from dataclasses import asdict
from pathlib import Path

from pad_core.integrations.services import (
    LOOPBACK_RAY,
    Service,
    kill_node,
    s3_env,
    start_fake_cluster,
    start_mlflow,
    start_ray_head,
    start_seaweedfs,
    stop,
)
from pad_core.integrations.services.fake_cluster import DEFAULT_CONFIG

S3_BUCKET = "padsweep"  # the bucket `up --s3` creates: data, checkpoints and Tune state of local rehearsals


def _state_file(root: Path) -> Path:
    return root / "services.json"


def up(root: Path, num_cpus: int | None, s3: bool = False, fake_cluster: Path | None = None) -> dict[str, str]:
    """Start MLflow and a Ray head (and, with ``s3``, a SeaweedFS S3 server with fresh keys, whose variables the
    Ray head and every sweep then get); write their addresses to ``root/env``. With ``fake_cluster`` (a cluster
    YAML such as cluster/fake_local.yaml) the head is an autoscaling cluster's: worker nodes come with demand."""
    root.mkdir(parents=True, exist_ok=True)
    started: dict[str, Service] = {}
    env: dict[str, str] = {}
    if s3:
        key, secret = f"padsweep-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
        started["s3"] = start_seaweedfs(root, key, secret, buckets=(S3_BUCKET,))
        env.update({**s3_env(started["s3"], key, secret), "PADSWEEP_STORAGE": f"s3://{S3_BUCKET}/ray"})
        os.environ.update(env)  # the Ray head's workers read the bucket with them, as a cluster's instance role would
    started["mlflow"] = start_mlflow(root)
    started["ray"] = start_fake_cluster(root, fake_cluster) if fake_cluster else start_ray_head(root, num_cpus=num_cpus)
    _state_file(root).write_text(json.dumps({k: asdict(v) for k, v in started.items()}, indent=2))
    env.update({"MLFLOW_TRACKING_URI": started["mlflow"].url, "RAY_ADDRESS": started["ray"].url,
                "RAY_API_SERVER_ADDRESS": started["ray"].dashboard, **LOOPBACK_RAY})
    (root / "env").write_text("".join(f"export {k}={v}\n" for k, v in env.items()))
    return env


def down(root: Path) -> None:
    """Stop what ``up`` started: Ray first, so its job drivers end their runs while MLflow still answers."""
    state = _state_file(root)
    if not state.is_file():
        return
    for info in reversed(json.loads(state.read_text()).values()):
        stop(_service(info))
    state.unlink()


def _service(info: dict) -> Service:
    return Service(**{**info, "scratch": tuple(info.get("scratch", ()))})  # JSON keeps the tuple as a list


def ray_service(root: Path) -> Service:
    state = _state_file(root)
    if not state.is_file():
        raise SystemExit(f"error: no services started under {root} (bash scripts/services.sh up --fake-cluster)")
    return _service(json.loads(state.read_text())["ray"])


def serve_mlflow(args: argparse.Namespace) -> None:
    started = time.monotonic()
    svc = start_mlflow(args.root, args.port, backend_uri=args.backend_store_uri,
                       artifacts_destination=args.artifacts_destination, auth=args.auth, auth_db=args.auth_db,
                       allowed_hosts=args.allowed_hosts)
    print(f"MLflow {svc.url} (pid {svc.pid}, healthy after {time.monotonic() - started:.1f}s, log {svc.log}); "
          f"stop it with: kill -TERM -- -{svc.pid}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pad_core.integrations.services", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("up", "down", "mlflow", "kill-node"))
    p.add_argument("node_id", nargs="?", help="kill-node: the worker node to kill (ray status / the dashboard name it)")
    p.add_argument("--root", type=Path, default=Path(".padsweep"), help="state, logs, sqlite db, local artifacts")
    p.add_argument("--num-cpus", type=int, default=None, help="up: CPUs the Ray head offers (default: all)")
    p.add_argument("--fake-cluster", nargs="?", type=Path, const=DEFAULT_CONFIG, default=None,
                   help="up: an autoscaling multi-node cluster on this machine (Ray's fake provider) instead of one "
                   "head; worker nodes as cluster/fake_local.yaml (or the YAML given) declares them")
    p.add_argument("--s3", action="store_true", help="up: also a local S3 server (SeaweedFS) with a bucket "
                   f"{S3_BUCKET!r}; its keys go to the env file (rehearsals keep data and checkpoints there)")
    m = p.add_argument_group("mlflow (production options; defaults are the development server)")
    m.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    m.add_argument("--backend-store-uri", help="e.g. postgresql+psycopg2://mlflow:PASSWORD@db.internal:5432/mlflow")
    m.add_argument("--artifacts-destination", help="e.g. s3://lab-mlflow/artifacts (S3 keys from the environment)")
    m.add_argument("--auth", action="store_true", help="basic auth; needs MLFLOW_AUTH_ADMIN_PASSWORD and "
                   "MLFLOW_FLASK_SERVER_SECRET_KEY in the environment")
    m.add_argument("--auth-db", help="where users live (default: sqlite in --root); e.g. the Postgres URI")
    m.add_argument("--allowed-hosts", help="comma-separated Host headers the server answers (DNS-rebinding guard)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.action == "up":
        down(args.root)
        for k, v in up(args.root, args.num_cpus, args.s3, args.fake_cluster).items():
            print(f"{k}={'<secret>' if 'SECRET' in k else v}")
    elif args.action == "down":
        down(args.root)
    elif args.action == "kill-node":
        if not args.node_id:
            raise SystemExit("error: kill-node needs a NODE_ID (a worker node of the fake cluster)")
        print(f"killed node {args.node_id}: pids {kill_node(ray_service(args.root), args.node_id)}")
    else:
        serve_mlflow(args)


if __name__ == "__main__":
    main()
