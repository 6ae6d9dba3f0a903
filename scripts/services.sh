#!/usr/bin/env bash
# Start (up) or stop (down) the local Ray head and MLflow server, bound to 127.0.0.1, stopped by PID.
# `up` writes .padsweep/env (MLFLOW_TRACKING_URI, RAY_ADDRESS, RAY_API_SERVER_ADDRESS) to source.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
exec python -m pad_core.integrations.services "${1:-up}" --root .padsweep "${@:2}"
