#!/usr/bin/env bash
# The test suite (CPU only). Installs what it needs, then runs pytest; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_system.sh
. .venv/bin/activate
export PADSWEEP_CACHE=${PADSWEEP_CACHE:-$PWD/.padsweep/cache}
exec python -m pytest "$@"
