#!/usr/bin/env bash
# Fresh machine -> installed venv, local Ray head + MLflow server, the demo's tiny CLIP pretrained once on a
# synthetic captioned-shapes corpus (cached under $PADSWEEP_CACHE/pretrained, keyed by its config), then the MMoE
# mask-rate sweep submitted as a Ray job that fine-tunes from that file (--pretrained PATH, as with real weights)
# on the synthetic iris benchmark, and the table rebuilt from MLflow.
# Extra arguments go to sweeps/mask_rates.py (e.g. --smoke-test, --seeds 0,1,2; a later --pretrained wins).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash scripts/setup.sh
. .venv/bin/activate
python -m pad_core.integrations.services up --root .padsweep
. .padsweep/env
export PADSWEEP_CACHE=${PADSWEEP_CACHE:-$PWD/.padsweep/cache}
t1=$(date +%s)
weights=$(python -m pad_core pretrain)  # seconds when cached; a few minutes the first time
echo "[demo] pretrained backbone: $weights ($(( $(date +%s) - t1 )) s)"
runtime_env=$(printf '{"env_vars": {"MLFLOW_TRACKING_URI": "%s", "PADSWEEP_CACHE": "%s"}}' \
  "$MLFLOW_TRACKING_URI" "$PADSWEEP_CACHE")
t2=$(date +%s)
ray job submit --address "$RAY_API_SERVER_ADDRESS" --working-dir . --runtime-env-json "$runtime_env" \
  -- python sweeps/mask_rates.py --pretrained "$weights" "$@"
echo
echo "Done in $(( $(date +%s) - t0 )) s (sweep $(( $(date +%s) - t2 )) s). Open MLflow at $MLFLOW_TRACKING_URI" \
  "(experiment 'padsweep')."
echo "Ray dashboard: $RAY_API_SERVER_ADDRESS. Stop both with: bash scripts/services.sh down"
