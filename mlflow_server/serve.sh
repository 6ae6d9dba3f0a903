#!/usr/bin/env bash
# Start an MLflow tracking server for padsweep (development mode): sqlite backend, local artifact root,
# bound to 127.0.0.1, one worker, job execution off, waits until /health answers. Prints URL and PID.
#   bash mlflow_server/serve.sh [--root DIR] [--port PORT]
# Stop it by PID (kill -- -PID stops its whole process group). Never expose it beyond loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
exec python -m pad_core.integrations.services mlflow "$@"
