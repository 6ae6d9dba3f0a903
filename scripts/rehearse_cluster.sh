#!/usr/bin/env bash
# The cluster path rehearsed on this machine (about 9 min): every test that runs sweeps on a fake autoscaling
# multi-node Ray cluster (cluster/fake_local.yaml) with checkpoints in a local S3 server: scale-out to worker
# nodes and back, a lost worker node (in-trial and 2-node DDP), the whole cluster torn down and the same job
# resubmitted, packing of fractional and whole-GPU trials. The test command (scripts/test.sh) runs only the
# node-loss test of these. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export PADSWEEP_CACHE=${PADSWEEP_CACHE:-$PWD/.padsweep/cache}
exec python -m pytest -m cluster tests/integration/test_cluster.py tests/integration/test_cluster_packing.py "$@"
