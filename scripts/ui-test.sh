#!/usr/bin/env bash
# The JupyterLab panel's tests: bash scripts/ui-test.sh [playwright args...]
#   1. builds the labextension (jlpm), 2. checks its formatting and lint (prettier, eslint),
#   3. runs the jest unit tests, 4. runs the UI tests
#   (Galata/Playwright in Debian's headless Chromium) against a real `jupyter lab` with the
#   server extension and a fresh store seeded through the Python API: a throw-away database
#   in PostgreSQL (scripts/pg.sh finds or starts one; the "database down" test switches its
#   connections off and on), or a SQLite file when no PostgreSQL can be had (that test is
#   then skipped, said loudly).
# Needs node and .venv (scripts/common.sh makes it). Installs chromium with apt-get when
# /usr/bin/chromium is missing; never downloads Playwright's own browsers.
# Screenshots and the HTML report: labextension/ui-tests/test-results, playwright-report.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."
REPO=$PWD
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
export PATH=$REPO/.venv/bin:$PATH
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if [[ ! -x /usr/bin/chromium ]]; then
    echo "== installing chromium (apt-get)"
    if ((EUID == 0)); then
        apt-get update -q && apt-get install -y -q chromium
    else
        sudo apt-get update -q && sudo apt-get install -y -q chromium
    fi
fi

echo "== jlpm install && jlpm build (labextension)"
jlpm install
jlpm build

echo "== prettier + eslint (labextension)"
jlpm lint:check

echo "== jest (labextension unit tests)"
jlpm jest

echo "== UI tests (headless chromium)"
(cd labextension/ui-tests && jlpm install)

UI_HOME=$(mktemp -d "${TMPDIR:-/tmp}/omega_ui.XXXXXX")
# shellcheck disable=SC2317  # called through the trap
ui_cleanup() {
    omega_drop_test_db
    rm -rf -- "$UI_HOME" || true
}
trap ui_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The store of the UI tests, in a throw-away OMEGA_HOME (never the user's): a fresh PostgreSQL
# database, else a SQLite file.
export OMEGA_HOME=$UI_HOME/home
unset OMEGA_BUCKET OMEGA_UI_NO_POSTGRES
mkdir -p -- "$OMEGA_HOME"
omega_ensure_postgres
if [[ -n ${OMEGA_TEST_POSTGRES_URL:-} ]]; then
    export OMEGA_DATABASE_URL=$OMEGA_TEST_POSTGRES_URL
    # What database.py needs to switch the database's connections off and on.
    export OMEGA_UI_PG_MAINTDB=$_OMEGA_PG_MAINTDB
else
    export OMEGA_DATABASE_URL=sqlite:///$OMEGA_HOME/omega.db
    export OMEGA_UI_NO_POSTGRES=${OMEGA_PG_SKIPPED:-no PostgreSQL}
    echo "NOTE: the UI tests run on SQLite; the 'database down' test is SKIPPED ($OMEGA_UI_NO_POSTGRES)" >&2
fi
python labextension/ui-tests/seed.py

# The extension just built, ahead of any installed copy.
mkdir -p -- "$UI_HOME/labextensions"
ln -s -- "$REPO/omega_jupyter/labextension" "$UI_HOME/labextensions/omega-jupyter"
export OMEGA_UI_LABEXTENSIONS=$UI_HOME/labextensions
export JUPYTER_CONFIG_DIR=$UI_HOME/jupyter_config
export JUPYTERLAB_SETTINGS_DIR=$UI_HOME/lab_settings
export JUPYTERLAB_WORKSPACES_DIR=$UI_HOME/lab_workspaces
# One free port, chosen here: the Playwright config is evaluated again in each worker.
OMEGA_UI_PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export OMEGA_UI_PORT

rc=0
(cd labextension/ui-tests && jlpm playwright test "$@") || rc=$?
echo "UI test screenshots: labextension/ui-tests/test-results/"
if [[ -n ${OMEGA_UI_NO_POSTGRES:-} ]]; then
    echo "NOTE: the 'database down' UI test was SKIPPED: $OMEGA_UI_NO_POSTGRES" >&2
fi
exit "$rc"
