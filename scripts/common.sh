# shellcheck shell=bash
# Sourced (not run) by scripts/test.sh and scripts/demo.sh: the set-up both share.
#
#   omega_setup_venv  cd's to the repo root, makes .venv if missing and installs the package
#                     editable with its dev extras (quick when nothing changed). Afterwards use
#                     .venv/bin/python etc.; the venv is not activated.

OMEGA_REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

omega_setup_venv() {
    cd -- "$OMEGA_REPO_ROOT" || return 1
    # Check for the interpreter, not the folder: a half-made .venv gets made again.
    if [[ ! -x .venv/bin/python ]]; then
        echo "creating .venv ..."
        python3 -m venv .venv || return 1
    fi
    # Always run: pyproject.toml may have gained a dependency since the last run.
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip || return 1
    .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' || return 1
}
