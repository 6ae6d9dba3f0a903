#!/usr/bin/env bash
# The test suite (CPU only). Installs what it needs, then runs pytest; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_system.sh
. .venv/bin/activate
export PADSWEEP_CACHE=${PADSWEEP_CACHE:-$PWD/.padsweep/cache}
# The fake-cluster tests take ~9 min on 2 cores (the suite is over its 30 min already): this command runs their
# node-loss test only, scripts/rehearse_cluster.sh all of them. A -m given here replaces this selection.
case " $* " in
  *" -m "*) exec python -m pytest "$@" ;;
  *) exec python -m pytest -m "not cluster or node_loss" "$@" ;;
esac
