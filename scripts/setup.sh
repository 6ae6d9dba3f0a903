#!/usr/bin/env bash
# Create .venv and install padsweep with its pinned dependencies. Idempotent: re-installs only when
# pyproject.toml changed. Everything the project needs is installed from here (CI runs it on a bare clone).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3; do command -v "$cand" >/dev/null && PY=$cand && break; done
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat .venv/.padsweep-installed 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing padsweep and its pinned dependencies into .venv (about 3 minutes on a fresh machine)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > .venv/.padsweep-installed
fi
