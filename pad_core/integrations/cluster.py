"""Connecting to Ray and sizing trial concurrency from what the cluster actually has."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import ray
from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR

from pad_core.errors import SweepError
from pad_core.integrations.endpoints import check_ray_form, refuse_http_port
from pad_core.integrations.options import Resources, exact

DRIVER_RESOURCE = "TRAIN_DRIVER"  # custom resource on the head: one unit per concurrent trial driver
LOCAL_DRIVERS = 8


# Trial drivers and Train workers inherit the raylet's environment, not the sweep driver's: credentials the
# driver holds (MLflow login, S3 keys and endpoint) travel in the job's runtime env.
FORWARDED_PREFIXES = ("MLFLOW_TRACKING_", "MLFLOW_S3_", "AWS_", "PADSWEEP_")


# Ray Train gives a worker group 60 s to start, then fails the attempt. Two ViT-B/16 DDP workers importing torch
# on a loaded 2-core machine took longer, and each failed attempt left Tune retrying (the full suite's DDP stop
# test failed that way); a GPU node just added by the autoscaler needs longer too. A value set by the user wins.
TRAIN_DEFAULTS = {"RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "300"}


def forwarded_env() -> dict[str, str]:
    """Credential/endpoint variables of this process that the Ray job does not already carry, plus Ray Train's
    start-up timeout (``TRAIN_DEFAULTS``) unless this process or the job sets it."""
    job = json.loads(os.environ.get(RAY_JOB_CONFIG_JSON_ENV_VAR, "{}")).get("runtime_env") or {}
    taken = set((job.get("env_vars") or {}).keys())
    env = {**TRAIN_DEFAULTS, **{k: v for k, v in os.environ.items() if k in TRAIN_DEFAULTS}}
    env.update({k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)})
    return {k: v for k, v in env.items() if k not in taken}


def check_ray_address(address: str | None, timeout: float = 5.0) -> None:
    """Fail in seconds, naming the address, when a given Ray cluster cannot be reached (``ray.init`` would
    retry for minutes) or the address is the dashboard's, not the cluster's; no address, ``auto`` and ``local``
    are Ray's to resolve."""
    import socket

    address = address or os.environ.get("RAY_ADDRESS")
    if not address or address in ("auto", "local"):
        return
    host, port = check_ray_form(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except (OSError, ValueError) as err:
        raise SweepError("--ray-address / RAY_ADDRESS", address, f"no Ray cluster answers there ({err})",
                         "start one (bash scripts/services.sh up; ray up cluster/a100.yaml) or fix the address; "
                         "unset RAY_ADDRESS to start a local Ray") from None
    refuse_http_port(address, host, port)


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` / $RAY_ADDRESS, or start a local one that declares TRAIN_DRIVER."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    runtime_env = {"env_vars": forwarded_env()}
    if address:
        ray.init(address=address, log_to_driver=True, runtime_env=runtime_env)
    else:
        ray.init(resources={DRIVER_RESOURCE: LOCAL_DRIVERS}, include_dashboard=False, runtime_env=runtime_env)


def worker_need(res: Resources) -> dict[str, Fraction]:
    """What one worker holds, exactly: its CPUs and, on GPU trials, its GPU share."""
    need = {"CPU": exact(res.cpus_per_worker)}
    if res.gpus_per_worker:
        need["GPU"] = exact(res.gpus_per_worker)
    return need


def fit_trials(nodes: list[dict[str, float]], res: Resources) -> int:
    """Trials that fit at once on nodes with these resources (one dict per node). A worker lives on one node: each
    node holds as many workers as its scarcest resource allows (4 trials per GPU at 0.25 GPU); an in-trial trial is
    one worker, a Ray Train trial's workers may spread over nodes."""
    need = {kind: amount for kind, amount in worker_need(res).items() if amount > 0}
    workers = sum(min(int(exact(node.get(kind, 0)) // amount) for kind, amount in need.items()) for node in nodes)
    return workers // res.workers


def concurrency(nodes: list[dict[str, float]], total: dict[str, float], res: Resources, requested: int = 0,
                autoscaling: bool = False) -> int:
    """Trials that fit at once (:func:`fit_trials`), capped by TRAIN_DRIVER slots and ``requested``.

    With ``autoscaling`` the GPU nodes may not exist yet (workers scale from zero): the requested cap (or
    the TRAIN_DRIVER count) is used and trials wait for nodes instead of failing the check.
    """
    drivers = int(total.get(DRIVER_RESOURCE, 0))
    if drivers < 1:
        raise SweepError("ray cluster", DRIVER_RESOURCE, "the cluster declares no TRAIN_DRIVER resource",
                         "start the head with --resources='{\"TRAIN_DRIVER\": 8}' (cluster/ configs do this)")
    fit = fit_trials(nodes, res)
    if fit < 1 and not autoscaling:
        need = " + ".join(f"{float(res.workers * amount):g} {kind}s" for kind, amount in
                          sorted(worker_need(res).items(), reverse=True))  # GPUs first: the scarce one
        raise SweepError("resources per trial", need, "more than the cluster has now, counted per node (a worker "
                         f"lives on one node): {dict(total)}",
                         "lower --gpus-per-trial / --workers-per-trial / --cpus-per-worker, add nodes, or pass "
                         "--autoscaling")
    # With autoscaling, the nodes alive now say nothing of what the autoscaler adds: an idle node left over from
    # the last sweep fit one trial, which capped the sweep at one and the cluster never scaled out.
    limit = drivers if autoscaling else max(1, min(drivers, fit))
    return min(limit, requested) if requested else limit


def max_concurrent(res: Resources, requested: int = 0, autoscaling: bool = False) -> int:
    """:func:`concurrency` on the cluster this process is connected to (its live nodes, as Ray declares them)."""
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    return concurrency(nodes, ray.cluster_resources(), res, requested, autoscaling)
