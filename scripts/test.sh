#!/usr/bin/env bash
# The test suite (CPU only). Installs what it needs, then runs pytest; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_system.sh
. .venv/bin/activate
export PADSWEEP_CACHE=${PADSWEEP_CACHE:-$PWD/.padsweep/cache}
# The paper-path rehearsal (tests/integration/test_rehearsal.py) writes ViT-B/16 checkpoints of ~6 GB to a local S3
# server in the temp folder: the suite holds ~16 GB there at its peak (docs/BENCHMARKS.md §14) and gives it back.
# Refused up front when the room is not there, instead of failing test after test once the disk is full.
tmp=$(python -c 'import tempfile; print(tempfile.gettempdir())')
need_gb=${PADSWEEP_TEST_FREE_GB:-20}
free_gb=$(df -Pk "$tmp" | awk 'NR == 2 {print int($4 / 1048576)}')
echo "[test] $tmp: $free_gb GB free (the suite needs $need_gb GB at its peak)"
if (( free_gb < need_gb )); then
  echo "scripts/test.sh: $tmp has $free_gb GB free; the suite needs $need_gb GB there at its peak. Fix: free space" \
    "in $tmp (old pytest-of-* folders, Ray sessions), or point TMPDIR at a larger disk; with the rehearsal" \
    "deselected, PADSWEEP_TEST_FREE_GB=5 is enough" >&2
  exit 2
fi
# The fake-cluster tests take ~9 min on 2 cores (the suite is over its 30 min already): this command runs their
# node-loss test only, scripts/rehearse_cluster.sh all of them. A -m given here replaces this selection.
case " $* " in
  *" -m "*) exec python -m pytest "$@" ;;
  *) exec python -m pytest -m "not cluster or node_loss" "$@" ;;
esac
