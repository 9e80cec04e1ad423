"""RunHandle: follow one run; its state lives in the database, so any process can rebuild it."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from omega_jupyter.exceptions import RunFailedError, RunTimeoutError
from omega_jupyter.runtime.events import publish_ended
from omega_jupyter.runtime.runs import RunRecord
from omega_jupyter.storage.metadata import now

if TYPE_CHECKING:
    from omega_jupyter.runtime.service import Runtime

# A running run whose heartbeat is older than this is failed: its worker is gone.
STALE_AFTER = timedelta(seconds=60)


class RunHandle:
    """``.id``, ``.status``, ``.result(timeout)`` (``.get``), ``.wait()``, ``.cancel()``."""

    def __init__(self, runtime: Runtime, run_id: str, future: Any = None) -> None:
        self.runtime = runtime
        self.id = run_id
        self._future = future

    @property
    def future(self) -> Any:
        """The run's Dask future, if this process submitted it (else None)."""
        return self._future

    # -- state ----------------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        """The run row, after reconciling it with what Dask knows (a dead worker fails it)."""
        record = self.runtime.runs_store.get(self.id)
        if record.done:
            return record
        reason = self._lost_reason(record)
        if reason:
            if self.runtime.runs_store.finish(self.id, "failed", error=reason):
                publish_ended(self.runtime.om, record, "failed", reason)
            record = self.runtime.runs_store.get(self.id)
        return record

    def _lost_reason(self, record: RunRecord) -> str | None:
        future = self._future
        if future is not None and future.status in ("error", "cancelled"):
            try:
                exc = future.exception(timeout=1)
            except Exception as err:  # cancelled futures raise instead of returning
                exc = err
            return f"the task was lost: {type(exc).__name__}: {exc}"
        stale = record.heartbeat is not None and now() - record.heartbeat > STALE_AFTER
        if record.state == "running" and stale:
            return f"no heartbeat from worker {record.worker} since {record.heartbeat}"
        return None

    @property
    def status(self) -> str:
        return self.record.state

    @property
    def done(self) -> bool:
        return self.record.done

    # -- waiting --------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> RunHandle:
        """Block until the run has ended (any final state); raise RunTimeoutError if it has not
        ended within ``timeout`` seconds (it keeps running)."""
        self._wait_record(timeout)
        return self

    def result(self, timeout: float | None = None) -> Any:
        """The run's result; raises :class:`RunFailedError` with the run's error if it failed
        or was cancelled, :class:`RunTimeoutError` after ``timeout`` seconds."""
        record = self._wait_record(timeout)
        if record.state == "succeeded":
            return decode_result(self.runtime.om, record.result)
        raise RunFailedError(
            f"run {self.id} ({record.action} {record.target}) {record.state}: "
            f"{record.error or 'no error recorded'}",
            run_id=self.id,
            state=record.state,
        )

    get = result

    def _wait_record(self, timeout: float | None) -> RunRecord:
        deadline = None if timeout is None else time.monotonic() + timeout
        future = self._future
        if future is not None:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=remaining)
            except Exception:
                pass  # timeouts and task errors: the run row below tells what happened
        delay = 0.01
        while True:
            record = self.record
            if record.done:
                self._future = None  # let Dask forget the task's (already recorded) result
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise RunTimeoutError(
                    f"run {self.id} is still {record.state} after {timeout} s (it keeps running; "
                    "wait again or cancel it)"
                )
            pause = delay if deadline is None else min(delay, deadline - time.monotonic())
            time.sleep(max(0.0, pause))
            delay = min(delay * 2, 0.5)

    # -- control --------------------------------------------------------------------------
    def cancel(self) -> bool:
        """Cancel a queued or running run; False if it had already ended. A task that is
        already executing finishes in the background, but its outcome is discarded.

        Whoever ends a run publishes its ``finished`` message: the cancel does it here (the
        task of a running run then ends without publishing)."""
        store = self.runtime.runs_store
        cancelled = store.finish(self.id, "cancelled", error="cancelled")
        if cancelled:
            publish_ended(self.runtime.om, self.id, "cancelled", "cancelled")
            self.runtime.cancel_task(self.id, self._future)
        return cancelled

    def __repr__(self) -> str:
        return f"RunHandle(id={self.id!r})"


def decode_result(om: Any, result: Any) -> Any:
    """Turn a stored result reference back into the value."""
    if not isinstance(result, dict) or "type" not in result:
        return result
    kind = result["type"]
    if kind == "value":
        return result["value"]
    if kind == "ndarray":
        dtype = np.dtype(result["dtype"])
        return np.asarray(result["data"], dtype=dtype)
    if kind == "dataset":
        value = om.datasets.get(result["name"], version=result["version"])
        if result.get("as") == "ndarray" and hasattr(value, "to_numpy"):
            value = value.to_numpy()
            return value[:, 0] if value.ndim == 2 and value.shape[1] == 1 else value
        return value
    if kind == "model":
        return om.models.metadata(f"{result['model']}@{result['version']}")
    return result
