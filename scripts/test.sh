#!/usr/bin/env bash
# The test suite (CPU only). Installs what it needs, then runs pytest; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_system.sh
. .venv/bin/activate
export PADSWEEP_CACHE=${PADSWEEP_CACHE:-$PWD/.padsweep/cache}
# The paper-path rehearsal (tests/integration/test_rehearsal.py) writes ViT-B/16 checkpoints of ~6 GB to a local S3
# server in the temp folder: the suite holds ~17 GB there at its peak (docs/BENCHMARKS.md §14) and gives it back.
# What earlier runs left is removed first; then it is refused up front when the room is not there, instead of failing
# test after test once the disk is full (tests/preflight.py).
python -m tests.preflight --need-gb "${PADSWEEP_TEST_FREE_GB:-20}"
# The fake-cluster tests take ~9 min on 2 cores (the suite is over its 30 min already): this command runs their
# node-loss test only, scripts/rehearse_cluster.sh all of them. A -m given here replaces this selection.
case " $* " in
  *" -m "*) exec python -m pytest "$@" ;;
  *) exec python -m pytest -m "not cluster or node_loss" "$@" ;;
esac
