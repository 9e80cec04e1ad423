"""Run lifecycle messages on a stream (``result_stream=``), so other components can react.

Every kind of run publishes through :class:`RunEvents`, so the messages share one shape::

    {"event": "started",  "run_id", "kind", "name", "action", "version", "parameters"}
    {"event": "finished", "run_id", "kind", "name", "action", "version",
     "state", "error", "duration", "result"}

Notebook and script runs publish both; model actions publish ``finished`` only (a predict is
latency-sensitive, and its outcome is what a consumer waits for). Publishing is best effort:
a failure is logged as a warning with the run id and never changes the run's outcome.
"""

from __future__ import annotations

import time
from typing import Any

from omega_jupyter.names import validate_name


def check_stream(name: str | None) -> str | None:
    """``name`` if it may name a stream (``None``: no publishing); else InvalidNameError —
    called before a run is recorded, so a bad name creates nothing."""
    return None if name is None else validate_name(name)


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

    def _publish(self, message: dict[str, Any]) -> None:
        if not self.stream:
            return
        try:
            self.om.streams.put(message, self.stream)
        except Exception as exc:
            try:
                self.om.logger.warning(
                    f"run {self.run_id}: could not publish {message['event']!r} to stream "
                    f"{self.stream!r}: {type(exc).__name__}: {exc}",
                    run_id=self.run_id,
                )
            except Exception:
                pass  # the store is unreachable: the run row still tells the outcome
