#!/usr/bin/env bash
# Fresh machine -> installed venv, local Ray head + MLflow server, the MMoE mask-rate sweep submitted as a
# Ray job on the embedded defaults (synthetic iris benchmark, tiny CLIP), and the table rebuilt from MLflow.
# Extra arguments go to sweeps/mask_rates.py (e.g. --smoke-test, --seeds 0,1,2).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash scripts/setup.sh
. .venv/bin/activate
python -m pad_core.integrations.services up --root .padsweep
. .padsweep/env
export PADSWEEP_CACHE=${PADSWEEP_CACHE:-$PWD/.padsweep/cache}
runtime_env=$(printf '{"env_vars": {"MLFLOW_TRACKING_URI": "%s", "PADSWEEP_CACHE": "%s"}}' \
  "$MLFLOW_TRACKING_URI" "$PADSWEEP_CACHE")
ray job submit --address "$RAY_API_SERVER_ADDRESS" --working-dir . --runtime-env-json "$runtime_env" \
  -- python sweeps/mask_rates.py "$@"
echo
echo "Done in $(( $(date +%s) - t0 )) s. Open MLflow at $MLFLOW_TRACKING_URI (experiment 'padsweep')."
echo "Ray dashboard: $RAY_API_SERVER_ADDRESS. Stop both with: bash scripts/services.sh down"
