"""The README's and docs' examples run as written.

Every fenced ```python and ```bash block of README.md and docs/*.md runs, after the demo data of
tests/docs_demo.py is stored, unless an HTML comment just before it says ``<!-- norun: why -->``
(a signature listing, a placeholder, a long-running service, or network). Python blocks (with
``%om`` magics) run in one IPython shell per file, bash blocks in one folder per file, each file
in its own process. A second test runs the README's ``om …`` command lines exactly as written,
in order, on one store; the services among them (``om serve``, ``om scheduler``) must come up
and keep running until they are stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(
    r"(?P<marker><!--\s*norun(?::(?P<why>.*?))?\s*-->\s*\n)?^```(?P<lang>python|bash)\n(?P<body>.*?)^```",
    re.M | re.S,
)
SERVICES = ("om serve", "om scheduler")  # run until stopped: they must start and keep running


def blocks(path: Path) -> list[dict]:
    """The fenced python/bash blocks of ``path``: language, line, body, skipped (and why)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        line = text[: match.start("lang")].count("\n") + 1
        found.append(
            {
                "lang": match["lang"],
                "line": line,
                "body": match["body"],
                "norun": match["marker"] is not None,
                "why": (match["why"] or "").strip(),
            }
        )
    return found


def test_every_skipped_block_says_why() -> None:
    for path in DOCS:
        for block in blocks(path):
            if block["norun"]:
                assert block["why"], (
                    f"{path.name}:{block['line']}: <!-- norun: … --> needs a reason"
                )


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMEGA_", "DASK_"))}
    env["OMEGA_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


_RUNNER = r"""
import json, sys
from pathlib import Path
import omega_jupyter
from IPython.core.interactiveshell import InteractiveShell
from tests import docs_demo

cells = json.loads(Path(sys.argv[1]).read_text())
docs_demo.write_files(Path.cwd())
docs_demo.store_data(omega_jupyter.get_default(), Path.cwd())
shell = InteractiveShell.instance()
shell.run_cell("%load_ext omega_jupyter")
shell.run_cell("import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
               "from tests.docs_demo import sales_frame\ndf = sales_frame()")
failures = []
for cell in cells:
    result = shell.run_cell(cell["source"])
    if not result.success:
        error = result.error_in_exec or result.error_before_exec
        failures.append({"line": cell["line"], "error": f"{type(error).__name__}: {error}"})
print("FAILURES=" + json.dumps(failures))
"""


def _cells(block: dict) -> list[dict]:
    """A block as IPython cells: a ``%%`` cell magic starts a cell of its own."""
    parts = re.split(r"\n\s*\n(?=%%)", block["body"])
    return [{"line": block["line"], "source": part} for part in parts if part.strip()]


def _runnable(path: Path, lang: str) -> list[dict]:
    return [b for b in blocks(path) if b["lang"] == lang and not b["norun"]]


def _ids(lang: str) -> list:
    return [pytest.param(p, id=p.name) for p in DOCS if _runnable(p, lang)]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", _ids("python"))
def test_python_blocks_run(path: Path, tmp_path: Path) -> None:
    cells = [cell for block in _runnable(path, "python") for cell in _cells(block)]
    (tmp_path / "cells.json").write_text(json.dumps(cells))
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(tmp_path / "cells.json")],
        cwd=work,
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    marker = [line for line in done.stdout.splitlines() if line.startswith("FAILURES=")]
    assert marker, done.stdout[-3000:] + done.stderr[-3000:]
    failures = json.loads(marker[-1].split("=", 1)[1])
    assert failures == [], f"{path.name}: {failures}"


@pytest.mark.parametrize("path", _ids("bash"))
def test_bash_blocks_run(path: Path, tmp_path: Path) -> None:
    work = _demo_folder(tmp_path)
    for block in _runnable(path, "bash"):
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block["body"]],
            cwd=work,
            env=_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{path.name}:{block['line']}\n{done.stdout}\n{done.stderr}"


def _demo_folder(tmp_path: Path) -> Path:
    """A folder with the demo files, and the demo data stored in ``tmp_path/home``."""
    work = tmp_path / "work"
    work.mkdir()
    setup = (
        "from pathlib import Path; import omega_jupyter; from tests import docs_demo; "
        "docs_demo.write_files(Path.cwd()); "
        "docs_demo.store_data(omega_jupyter.get_default(), Path.cwd())"
    )
    done = subprocess.run(
        [sys.executable, "-c", setup],
        cwd=work,
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return work


def readme_command_lines() -> list[str]:
    """The README's command lines that start with ``om`` (comments kept: bash drops them)."""
    lines = []
    for block in blocks(ROOT / "README.md"):
        if block["lang"] == "bash":
            lines += [line for line in block["body"].splitlines() if line.startswith("om ")]
    return lines


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_readme_om_command_lines_run_as_written(tmp_path: Path) -> None:
    lines = readme_command_lines()
    assert len(lines) >= 10, lines
    work = _demo_folder(tmp_path)
    env = _env(tmp_path / "home")
    for line in lines:
        service = line.split("#", 1)[0].strip().startswith(SERVICES)
        proc = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", "-c", line],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a service and anything it starts are stopped together
        )
        try:
            if service:
                out, err = _service_comes_up(proc)
            else:
                out, err = proc.communicate(timeout=600)
                assert proc.returncode == 0, f"{line}\n{out}\n{err}"
        finally:
            _stop(proc)
        assert "Traceback" not in err, f"{line}\n{err}"


def _service_comes_up(proc: subprocess.Popen) -> tuple[str, str]:
    """A service line: still running (and quiet about errors) after a few seconds."""
    try:
        out, err = proc.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        return "", ""  # still serving: what it printed so far is read when it is stopped
    # a line like ``om serve … &  KEY=$(…)`` returns once its foreground part is done
    assert proc.returncode == 0, f"{out}\n{err}"
    return out, err


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
