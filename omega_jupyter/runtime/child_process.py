"""User code apart from the worker: a child process started with a run's scrubbed environment.

A run kind whose body executes code the platform did not write (a script's ``run``, a trusted
pickle) calls :func:`run_apart` on the worker: it starts ``python CHILD_FILE RESULT_FILE``
with the kind's spec (JSON) on stdin, in a private temporary folder, with the environment
``runtime.worker.run_env`` builds (on PostgreSQL the run bucket's credential and nothing of the
worker's). The child file calls :func:`answer`, which runs its body and writes
``{"result": ...}`` or ``{"error": ..., "traceback": ...}`` to RESULT_FILE. This module imports
the standard library only, so a child pays for little more than the interpreter's start.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_apart(child_file: str, spec: dict, env: dict[str, str], what: str) -> dict[str, Any]:
    """Run ``child_file`` in a child process with ``spec`` and ``env``; returns its answer:
    ``{"result": ...}`` or ``{"error", "traceback"}`` (also when the process died without
    one: ``what`` names it in the error, e.g. 'script')."""
    with tempfile.TemporaryDirectory(prefix=f"omega-{what}-") as cwd:
        result_file = Path(cwd) / "result.json"
        done = subprocess.run(
            [sys.executable, child_file, str(result_file)],
            input=json.dumps(spec, default=str),
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        try:
            return json.loads(result_file.read_text())
        except (OSError, ValueError):
            reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            return {
                "error": f"the {what} process ended without a result: {reason}",
                "traceback": done.stderr,
            }


def answer(body: Callable[[dict], Any]) -> None:
    """The child's side: read the spec from stdin, run ``body(spec)`` and write its result
    (JSON) or its error to the file named by the first argument."""
    spec = json.loads(sys.stdin.read())
    try:
        text = json.dumps({"result": body(spec)})
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        text = json.dumps({"error": error, "traceback": traceback.format_exc()})
    Path(sys.argv[1]).write_text(text)
