#!/usr/bin/env bash
# THE test command: bash scripts/test.sh [pytest args...]
# Lints (ruff), then runs pytest against SQLite and, where one can be had, a fresh PostgreSQL
# database (scripts/pg.sh). Exits with pytest's code; "no tests collected" counts as a failure.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/common.sh
source scripts/common.sh
# shellcheck source=scripts/pg.sh
source scripts/pg.sh

omega_setup_venv

# Lint first: the cheapest failure, found before any database is started.
lint_paths=()
for p in omega_jupyter tests bench; do
    if [[ -e $p ]]; then lint_paths+=("$p"); fi # an empty bench/ is not in a fresh clone
done
echo "== ruff check ${lint_paths[*]}"
.venv/bin/ruff check "${lint_paths[@]}"
echo "== ruff format --check ${lint_paths[*]}"
.venv/bin/ruff format --check "${lint_paths[@]}"

# Tests must never touch the user's ~/.omega_jupyter.
OMEGA_HOME=$(mktemp -d "${TMPDIR:-/tmp}/omega_home.XXXXXX")
export OMEGA_HOME

# shellcheck disable=SC2317  # called through the trap below
cleanup() {
    omega_drop_test_db
    rm -rf -- "$OMEGA_HOME" || true
}
trap cleanup EXIT
# Make Ctrl-C / kill go through the EXIT trap too, so the database is dropped.
trap 'exit 130' INT
trap 'exit 143' TERM

omega_ensure_postgres

# Node packages before pytest: tests/test_hub.py runs JupyterHub's configurable-http-proxy
# (a devDependency in package.json); the panel's build below uses the same install.
if command -v node >/dev/null; then
    echo "== jlpm install (node packages)"
    .venv/bin/jlpm install
else
    echo "NOTE: node is missing: no configurable-http-proxy, the JupyterHub test will skip" >&2
fi

echo "== pytest $*"
rc=0
.venv/bin/python -m pytest "$@" || rc=$?

if [[ -n ${OMEGA_PG_SKIPPED:-} ]]; then
    # Said again here, where it is seen: the PostgreSQL half of the suite did not run.
    echo "NOTE: PostgreSQL tests were SKIPPED — $OMEGA_PG_SKIPPED" >&2
fi
if ((rc == 5)); then
    echo "FAILED: pytest collected no tests (exit code 5)" >&2
    exit 1
fi

# The JupyterLab panel: build, jest, UI tests in headless Chromium (installs chromium with
# apt-get when missing). Runs even when pytest failed, so both results are seen.
# OMEGA_SKIP_UI_TESTS=1 skips it (said loudly) for quick local runs of a few pytest files.
ui_rc=0
if [[ -n ${OMEGA_SKIP_UI_TESTS:-} ]]; then
    echo "NOTE: the JupyterLab panel tests were SKIPPED (OMEGA_SKIP_UI_TESTS is set)" >&2
else
    echo "== JupyterLab panel (scripts/ui-test.sh)"
    bash scripts/ui-test.sh || ui_rc=$?
fi
if ((ui_rc != 0)); then
    echo "FAILED: the JupyterLab panel tests (scripts/ui-test.sh, exit code $ui_rc)" >&2
    if ((rc == 0)); then rc=$ui_rc; fi
fi
exit "$rc"
