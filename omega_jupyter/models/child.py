"""The process a model action runs in when pickled models are trusted: ``python
.../child.py RESULT_FILE`` with the task's spec (JSON) on stdin.

A trusted pickle runs its own code when loaded (``__reduce__``) and when called. Started by
``model_run.execute`` with the run's scrubbed environment (``runtime.worker.run_env``), the
process holds the run bucket's credential only (on PostgreSQL): not the worker's clients of
other buckets, not the worker's environment. It writes ``{"result": ...}`` or
``{"error": ..., "traceback": ...}`` to RESULT_FILE; what the model prints goes to the run's
log as in the worker.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and sys.path and sys.path[0] == str(Path(__file__).parent):
    sys.path.pop(0)  # run as a file: this folder is no place to import from

from omega_jupyter.runtime.child_process import answer


def act(spec: dict) -> object:
    """Run the model action of ``spec`` with the run's own client; its result."""
    import omega_jupyter  # noqa: F401  (registers the client class)
    from omega_jupyter.logs.capture import capture_output
    from omega_jupyter.logs.logger import current_run
    from omega_jupyter.models.actions import ACTIONS
    from omega_jupyter.runtime.worker import blas_pinned, client_from_payload

    om = client_from_payload(spec["settings"])
    current_run.set(spec["run_id"])
    with blas_pinned(), capture_output(om.logger, spec["run_id"]):
        return ACTIONS[spec["action"]](om, spec)


if __name__ == "__main__":
    answer(act)
