"""Submitting notebook and script runs to Dask: ``om.runtime.job(name)``/``script(name)``.

The run row is written first (by the caller or the scheduler's claim); the task receives the
run id and references, never data, and records its own outcome.
"""

from __future__ import annotations

from typing import Any

from omega_jupyter.exceptions import OmegaError
from omega_jupyter.names import validate_name
from omega_jupyter.runtime.events import check_stream, publish_ended
from omega_jupyter.runtime.handle import RunHandle

TASKS = {
    "job": "omega_jupyter.jobs.execute:run_notebook",
    "script": "omega_jupyter.scripts.execute:run_script",
}


def _task(kind: str) -> Any:
    module, _, name = TASKS[kind].partition(":")
    return getattr(__import__(module, fromlist=[name]), name)


def submit(
    runtime: Any,
    kind: str,
    run_id: str,
    target: str,
    parameters: dict,
    fail_on_error: bool = True,
    **extra: Any,
) -> Any:
    """Send a recorded run to Dask through ``runtime`` (``om.runtime``); fire and forget, so it
    runs even if the caller exits. If Dask cannot be reached the run is marked failed with the
    reason, and ``finished`` published to its ``result_stream`` (unless ``fail_on_error`` is
    false: a resent run may be queued elsewhere), then the error raised. ``extra`` goes to the
    task as is (``timeout``; ``result_stream``: publish the run's lifecycle there, see
    runtime/events.py)."""
    from distributed import fire_and_forget

    from omega_jupyter.runtime.runs import RunStore
    from omega_jupyter.runtime.service import task_key
    from omega_jupyter.runtime.worker import settings_payload

    om = runtime.om

    spec = {
        "settings": settings_payload(om.settings),
        "run_id": run_id,
        "name": target,
        "parameters": parameters,
        **extra,
    }
    try:
        future = runtime.client.submit(
            _task(kind), spec, key=task_key(run_id), pure=False, resources=runtime.resources
        )
    except (OmegaError, OSError) as exc:
        if fail_on_error:
            error = f"{type(exc).__name__}: {exc}"
            if RunStore(om.db, om.bucket).finish(run_id, "failed", error=error):
                publish_ended(om, run_id, "failed", error)  # its task never runs
        raise
    fire_and_forget(future)
    return future


class _TargetRunner:
    kind = ""

    def __init__(self, runtime: Any, name: str) -> None:
        self.runtime = runtime
        self.om = runtime.om
        self.name = validate_name(name)

    def _start(
        self, parameters: dict, version: int | None, result_stream: str | None, **extra: Any
    ) -> Any:
        from omega_jupyter.runtime.runs import RunStore

        if result_stream is not None:
            extra["result_stream"] = result_stream

        run_id = RunStore(self.om.db, self.om.bucket).create(
            self.kind,
            self.name,
            "run",
            target_version=version,
            parameters=parameters,
            trigger="manual",
            result_stream=result_stream,
        )
        future = submit(self.runtime, self.kind, run_id, self.name, parameters, **extra)
        return RunHandle(self.runtime, run_id, future)


class JobRunner(_TargetRunner):
    """``om.runtime.job(name)``: run a stored notebook on the cluster."""

    kind = "job"

    def run(
        self,
        parameters: dict | None = None,
        timeout: float | None = None,
        result_stream: str | None = None,
    ) -> Any:
        """Execute the notebook with papermill on a worker; returns the run's handle.

        ``parameters`` are injected after the cell tagged ``parameters``; ``timeout`` (seconds)
        limits the whole job from kernel start, and so each cell; ``result_stream`` names a
        stream that gets a ``started`` and a ``finished`` message of the run.
        """
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError("parameters must be a dict")
        result_stream = check_stream(result_stream)
        meta = self.om.jobs.metadata(self.name)  # unknown jobs fail here, before any run row
        return self._start(dict(parameters or {}), meta.version, result_stream, timeout=timeout)


class ScriptRunner(_TargetRunner):
    """``om.runtime.script(name)``: install a stored script package on a worker and call run()."""

    kind = "script"

    def run(self, *, result_stream: str | None = None, **kwargs: Any) -> Any:
        """Call the package's ``run(om, **kwargs)`` on a worker; returns the run's handle.
        ``result_stream`` names a stream that gets a ``started`` and a ``finished`` message
        of the run (so ``result_stream`` is not passed on to the script)."""
        result_stream = check_stream(result_stream)
        meta = self.om.scripts.metadata(self.name)
        return self._start(dict(kwargs), meta.version, result_stream)
