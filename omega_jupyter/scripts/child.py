"""The process a script run's ``run(om, **kw)`` executes in: ``python .../child.py
RESULT_FILE`` with the run (JSON) on stdin; the worker installed the package already.

Started by ``script_run.execute`` with the run's scrubbed environment (``runtime.worker.run_env``):
its only database URL is the run bucket's credential (on PostgreSQL), and nothing of the
worker — the worker's clients of other buckets, its environment — exists in it. It writes
``{"value": ...}`` or ``{"error": ..., "traceback": ...}`` to RESULT_FILE; what the script
prints goes to the run's log as in the worker. Run as a file, not ``-m``, and importing only
the client and the logger: a run pays for little more than the interpreter's start.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

if __name__ == "__main__" and sys.path and sys.path[0] == str(Path(__file__).parent):
    sys.path.pop(0)  # run as a file: this folder is no place to import from

from omega_jupyter.exceptions import ScriptPackageError
from omega_jupyter.runtime.child_process import answer

_import_lock = threading.Lock()


def load_run(folder: Path, modules: list[str], name: str) -> Any:
    """The package's ``run`` callable, imported from ``folder`` (fresh if another version of
    the same modules was imported before)."""
    with _import_lock:
        path = str(folder)
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
        importlib.invalidate_caches()
        for module in modules:
            for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
                origin = getattr(sys.modules[loaded], "__file__", None) or ""
                if not origin.startswith(path):
                    del sys.modules[loaded]
        for module in modules:
            entry = getattr(importlib.import_module(module), "run", None)
            if callable(entry):
                return entry
    raise ScriptPackageError(
        f"script {name!r} defines no run(om, **kwargs) in its top-level module(s) "
        f"{', '.join(modules) or '(none found)'}"
    )


def call_run(spec: dict) -> object:
    """Call the installed package's ``run(om, **parameters)`` with the run's own client."""
    import omega_jupyter
    from omega_jupyter.logs.capture import capture_output
    from omega_jupyter.logs.logger import current_run

    om = omega_jupyter.setup()
    run_id, name = spec["run_id"], spec["name"]
    current_run.set(run_id)
    with capture_output(om.logger, run_id):
        entry = load_run(Path(spec["folder"]), spec["modules"], name)
        value = entry(om, **(spec.get("parameters") or {}))
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ScriptPackageError(f"run() must return JSON-able data: {exc}") from exc
    return value


if __name__ == "__main__":
    answer(call_run)
