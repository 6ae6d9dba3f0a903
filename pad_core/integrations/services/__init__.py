"""Services started and stopped by PID on loopback: Ray head, MLflow server, PostgreSQL, SeaweedFS (S3).

    python -m pad_core.integrations.services up --root .padsweep      # Ray head + MLflow; writes .padsweep/env
    python -m pad_core.integrations.services up --fake-cluster --s3   # an autoscaling multi-node cluster instead
    python -m pad_core.integrations.services kill-node NODE_ID         # a worker node lost (rehearsal)
    python -m pad_core.integrations.services down --root .padsweep
    python -m pad_core.integrations.services mlflow --help             # the tracking server alone (dev or prod)
"""

from pad_core.integrations.services.base import (
    HOST,
    LOOPBACK_RAY,
    NO_TELEMETRY,
    Service,
    free_port,
    stop,
    wait_http,
)
from pad_core.integrations.services.fake_cluster import alive_nodes, kill_node, start_fake_cluster
from pad_core.integrations.services.mlflow_server import start_mlflow
from pad_core.integrations.services.postgres import start_postgres
from pad_core.integrations.services.ray_head import start_ray_head
from pad_core.integrations.services.s3 import s3_env, start_seaweedfs, vacuuming

__all__ = ["HOST", "LOOPBACK_RAY", "NO_TELEMETRY", "Service", "alive_nodes", "free_port", "kill_node", "s3_env",
           "start_fake_cluster", "start_mlflow", "start_postgres", "start_ray_head", "start_seaweedfs", "stop",
           "vacuuming", "wait_http"]
