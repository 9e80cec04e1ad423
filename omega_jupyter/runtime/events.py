"""Run lifecycle messages on a stream (``result_stream=``), so other components can react.

Every kind of run publishes through :class:`RunEvents`, so the messages share one shape::

    {"event": "started",  "run_id", "kind", "name", "action", "version", "parameters"}
    {"event": "finished", "run_id", "kind", "name", "action", "version",
     "state", "error", "duration", "result"}

Notebook and script runs publish both; model actions publish ``finished`` only (a predict is
latency-sensitive, and its outcome is what a consumer waits for). Publishing is best effort:
a failure is logged as a warning with the run id and never changes the run's outcome.

The run row records its stream (``om_runs.result_stream``), so a run that ends without its
task still gets its ``finished`` message: :func:`publish_ended` is called by whoever ended it
(the scheduler's reconciler, a refused submission, a cancel, a handle that finds the task
lost), only when that caller's own conditional update ended the run; a task ends its run and
publishes through :meth:`RunEvents.end`, which follows the same rule.
"""

from __future__ import annotations

import time
from typing import Any

from omega_jupyter.names import validate_name


def check_stream(name: str | None) -> str | None:
    """``name`` if it may name a stream (``None``: no publishing); else InvalidNameError —
    called before a run is recorded, so a bad name creates nothing."""
    return None if name is None else validate_name(name)


def publish_ended(om: Any, run: Any, state: str, error: str | None = None) -> None:
    """Publish ``finished`` (``state``, ``error``) for a run that ended without its task.

    ``run`` is the run's row (an ``om_runs`` row or :class:`RunRecord`) or its id (then read
    here); nothing is published when it names no stream. ``om`` may be a client of any bucket
    of the run's database. The message has the shape a task's has (``duration`` and
    ``result`` are None). Best effort: never raises; a failure is a warning in ``om.logger``.
    Call it only when the caller's own conditional update ended the run, so that a run's end
    is published once.
    """
    run_id = getattr(run, "id", run)
    try:
        if isinstance(run, str):
            run = om.runtime.runs_store.get(run)
        if not run.result_stream:
            return
        if run.bucket != om.bucket:
            om = om[run.bucket]
        extra = om.runtime.kinds.describe(run)  # the fields its task would have published
        events = RunEvents(
            om,
            run.result_stream,
            run.id,
            run.kind,
            run.target,
            action=run.action,
            version=run.target_version,
            **extra,
        )
    except Exception as exc:
        _warn(om, run_id, f"could not publish 'finished': {type(exc).__name__}: {exc}")
        return
    events.finished(state, error=error, result=None)


def _warn(om: Any, run_id: str, text: str) -> None:
    try:
        om.logger.warning(f"run {run_id}: {text}", run_id=run_id)
    except Exception:
        pass  # the store is unreachable: the run row still tells the outcome


class RunEvents:
    """Publishes one run's lifecycle to ``stream`` (does nothing when ``stream`` is None)."""

    def __init__(
        self,
        om: Any,
        stream: str | None,
        run_id: str,
        kind: str,
        name: str,
        action: str = "run",
        version: int | None = None,
        **extra: Any,
    ) -> None:
        self.om = om
        self.stream = stream
        self.run_id = run_id
        self.base = {
            "run_id": run_id,
            "kind": kind,
            "name": name,
            "action": action,
            "version": version,
            **extra,
        }
        self._started: float | None = None

    def mark_started(self) -> None:
        """Count the run's duration from now, without publishing."""
        self._started = time.monotonic()

    def started(self, **fields: Any) -> None:
        """The run began on a worker; its duration is counted from here."""
        self.mark_started()
        self._publish({"event": "started", **self.base, **fields})

    def finished(self, state: str, error: str | None = None, **fields: Any) -> None:
        """The run ended in ``state`` (its final state as recorded)."""
        duration = None
        if self._started is not None:
            duration = round(time.monotonic() - self._started, 3)
        message = {"event": "finished", **self.base, "state": state, "error": error}
        self._publish({**message, "duration": duration, **fields})

    def end(
        self,
        runs: Any,
        state: str,
        error: str | None = None,
        *,
        stored: Any = None,
        traceback: str | None = None,
        **fields: Any,
    ) -> bool:
        """End the run in ``state`` if it is still queued or running (``RunStore.finish``;
        ``stored`` is the row's result) and publish ``finished`` only if this call ended it:
        a run cancelled or failed meanwhile was published by whoever ended it. ``fields`` go
        to the message (e.g. a ``result`` shorter than the stored one)."""
        done = runs.finish(self.run_id, state, result=stored, error=error, traceback=traceback)
        if done:
            self.finished(state, error=error, **fields)
        return done

    def _publish(self, message: dict[str, Any]) -> None:
        if not self.stream:
            return
        try:
            self.om.streams.put(message, self.stream)
        except Exception as exc:
            _warn(
                self.om,
                self.run_id,
                f"could not publish {message['event']!r} to stream {self.stream!r}: "
                f"{type(exc).__name__}: {exc}",
            )
