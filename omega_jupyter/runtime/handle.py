"""RunHandle: follow one run; its state lives in the database, so any process can rebuild it."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from omega_jupyter.exceptions import RunFailedError, RunTimeoutError
from omega_jupyter.runtime.events import publish_ended
from omega_jupyter.runtime.reconcile import (
    LOST,
    RETRIED,
    STALE_AFTER_SECONDS,
    RunReconciler,
    attempt_number,
    retries_left,
    send,
)
from omega_jupyter.runtime.runs import RunRecord
from omega_jupyter.storage.metadata import now

if TYPE_CHECKING:
    from omega_jupyter.runtime.service import Runtime

# A running run whose heartbeat is older than this is lost: its worker is gone.
STALE_AFTER = timedelta(seconds=STALE_AFTER_SECONDS)


class RunHandle:
    """``.id``, ``.status``, ``.result(timeout)`` (``.get``), ``.wait()``, ``.cancel()``,
    ``.attempts``.

    A run that loses its worker and is retried (``max_retries``) goes on as a new run row
    that names its previous attempt: the handle follows it, so ``.status``, ``.record`` and
    ``.result()`` are those of the latest attempt, while ``.id`` stays the id it was made for.
    """

    def __init__(self, runtime: Runtime, run_id: str, future: Any = None) -> None:
        self.runtime = runtime
        self.id = run_id
        self._current = run_id  # the latest attempt this handle has seen
        self._future = future
        self._sent: dict[str, Any] = {}  # futures of retries this handle sent

    @property
    def future(self) -> Any:
        """The Dask future of the run's latest attempt, if this process submitted it."""
        return self._future

    @property
    def attempts(self) -> list[RunRecord]:
        """Every attempt of the run, first to last (retries of a run that lost its worker)."""
        return self.runtime.runs_store.attempts(self.id)

    # -- state ----------------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        """The row of the run's latest attempt, after reconciling it: a run whose worker is
        lost (its heartbeat stopped, or Dask lost its task) is failed, and retried per its
        ``max_retries`` (sent from here), whoever else watches it."""
        store = self.runtime.runs_store
        record = store.get(self._current)
        if not record.done:
            lost = self._lost_task(record)
            if lost and store.finish(record.id, "failed", error=lost):
                publish_ended(self.runtime.om, record, "failed", lost)
            stale = record.heartbeat is not None and now() - record.heartbeat > STALE_AFTER
            if lost or (record.state == "running" and stale):
                self._reconcile(record.id)
            record = store.get(record.id)
        elif self._unretried(record):
            self._reconcile(record.id)
        while record.state == "failed" and (following := store.retry(record.id)) is not None:
            record = store.get(following)
            self._current = following
            self._future = self._sent.pop(following, None)
        return record

    def _lost_task(self, record: RunRecord) -> str | None:
        """Why the run is lost, if Dask says its task ended without ending the run."""
        future = self._future
        if future is None or future.status not in ("error", "cancelled"):
            return None
        try:
            exc = future.exception(timeout=1)
        except Exception as err:  # cancelled futures raise instead of returning
            exc = err
        return f"{LOST}run was lost: {type(exc).__name__}: {exc}; attempt {attempt_number(record)}"

    @staticmethod
    def _unretried(record: RunRecord) -> bool:
        error = record.error or ""
        lost = record.state == "failed" and error.startswith(LOST)
        return lost and not error.endswith(RETRIED) and retries_left(record)

    def _reconcile(self, run_id: str) -> None:
        """Reconcile this one run (fail it if lost; make and send its retry)."""
        om = self.runtime.om
        reconciler = RunReconciler(om.db, buckets=[om.bucket], run_ids=[run_id], om=om)
        for retry in reconciler.reconcile(now()):
            try:
                self._sent[retry.run_id] = send(om, retry, self.runtime).future
            except Exception:
                pass  # the retry's row says why (its submission failed)

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
                    f"run {record.id} is still {record.state} after {timeout} s (it keeps running; "
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
        run_id = self.record.id  # the latest attempt
        cancelled = store.finish(run_id, "cancelled", error="cancelled")
        if cancelled:
            publish_ended(self.runtime.om, run_id, "cancelled", "cancelled")
            self.runtime.cancel_task(run_id, self._future)
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
