#!/usr/bin/env bash
# Runs the demo: bash scripts/demo.sh [args for scripts/demo.py...]
# Needs no PostgreSQL: the default store is SQLite. Set OMEGA_DATABASE_URL to use another
# store; it is passed through untouched.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh

omega_setup_venv

if [[ -n ${OMEGA_DATABASE_URL:-} ]]; then
    echo "demo store: OMEGA_DATABASE_URL (value not shown: it may hold a password)"
else
    echo "demo store: the default SQLite store"
fi
exec .venv/bin/python scripts/demo.py "$@"
