"""``om --help`` and ``om GROUP --help`` answer without importing the data stack.

Importing pandas, SQLAlchemy, pyarrow, Dask or the client costs seconds before the first line
of help; the commands import them when they run. This test holds the import set (not the time,
which depends on the machine): a module-level import of one of them in the CLI fails it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from omega_jupyter.cli import COMMANDS

HEAVY = (
    "pandas",
    "numpy",
    "sqlalchemy",
    "pyarrow",
    "dask",
    "distributed",
    "nbformat",
    "sklearn",
    "tornado",
    "jupyter_server",
    "psycopg",
    "omega_jupyter.client",
    "rich.progress",
)
# Commands whose help still needs part of the stack, and why.
HEAVIER = {
    "datasets": "the profile options' limits live in datasets.profile (pandas, pyarrow)",
}

PROBE = """
import contextlib, io, json, sys
from omega_jupyter.cli import main
heavy = json.loads(sys.argv[2])
sys.argv = ["om", *json.loads(sys.argv[1])]
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": out.getvalue(), "heavy": [
    m for m in heavy if m in sys.modules]}))
"""


def probe(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([*args, "--help"]), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_root_help_lists_every_command_and_imports_nothing_heavy() -> None:
    answer = probe()
    assert answer["code"] == 0 and answer["heavy"] == []
    for name, (_, _, help_, hidden) in COMMANDS.items():
        if not hidden:  # (a hidden alias's name may show inside another's line)
            assert name in answer["help"] and help_.split()[0] in answer["help"], name


@pytest.mark.parametrize("name", [n for n, spec in COMMANDS.items() if not spec[3]])
def test_command_help_imports_nothing_heavy(name: str) -> None:
    answer = probe(name)
    assert answer["code"] == 0, answer
    assert "Usage:" in answer["help"] and "om " + name in answer["help"]
    if name in HEAVIER:
        assert answer["heavy"], f"{name} got lighter: drop it from HEAVIER"
    else:
        assert answer["heavy"] == [], f"om {name} --help imported {answer['heavy']}"
