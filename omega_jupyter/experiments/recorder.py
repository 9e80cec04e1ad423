"""Batched writes of experiment events: logging an event is appending to a list.

The promise: an event logged by a process that ends normally is in the database. How the code
keeps it:

- ``EventRecorder.add`` appends the row to an in-memory batch and returns (a row's ``data``
  may be a function, called when the row is written: see ``tracking.py``); one background
  thread per process (the flusher) writes every recorder's batch each ``FLUSH_SECONDS``, or at
  once when a batch reaches ``FLUSH_ROWS``: one ``executemany`` on SQLite, a ``COPY`` on
  PostgreSQL (``insert_rows``).
- The end of a run (``with`` block, a tracked fit) calls ``flush()``, which writes what is
  pending before it returns, so a run's events are stored when the run is over.
- ``atexit`` flushes every recorder on a normal exit (also after an exception in the main
  program). A flush that fails (database gone) keeps its rows and tries them again on the next
  flush; at exit the error is reported on stderr.

What cannot be kept: a process killed with SIGKILL (or ``os._exit``, or a machine lost) loses
the events logged since the last flush, at most ``FLUSH_SECONDS`` of them (and never those of a
run already ended). Writes are only appended, so two processes logging into one experiment
never conflict.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

from omega_jupyter.experiments.tables import events

if TYPE_CHECKING:
    from omega_jupyter.storage.engine import Database

FLUSH_SECONDS = 1.0
FLUSH_ROWS = 5_000
COPY_ROWS = 50  # a PostgreSQL batch this large is written with COPY (smaller: one INSERT)


class EventRecorder:
    """The pending events of one database (one per :class:`Database` object)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # guards _rows
        self._writing = threading.Lock()  # one INSERT at a time, in order

    def add(self, row: dict[str, Any]) -> None:
        """Queue one event row (a dict of ``om_experiment_events`` columns)."""
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= FLUSH_ROWS
        _flusher.ensure_running()
        if full:
            _flusher.wake()

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._rows.extend(rows)
        _flusher.ensure_running()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Write every queued event now; returns how many were written. On an error the rows
        stay queued (in their order) and the error is raised."""
        with self._writing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                ready = [_resolved(row) for row in rows]
                self.db.ensure_schema()
                with self.db.begin() as conn:
                    insert_rows(conn, ready)
            except BaseException:
                with self._lock:
                    self._rows[:0] = rows
                raise
            return len(rows)


COLUMNS = [c.name for c in events.columns if c.name != "id"]
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite DateTime stores times


def insert_rows(conn: Any, rows: list[dict[str, Any]]) -> None:
    """One ``executemany`` of the driver for SQLite and for small psycopg batches (SQLAlchemy's
    per-row parameter processing costs more than the insert itself), a ``COPY … FROM STDIN``
    for psycopg batches of ``COPY_ROWS`` or more; other drivers through SQLAlchemy."""
    names = ", ".join(f'"{c}"' for c in COLUMNS)
    if conn.dialect.name == "sqlite":
        params = [
            tuple(
                row["dt"].strftime(_SQLITE_TIME)
                if c == "dt"
                else (None if row["data"] is None else json.dumps(row["data"]))
                if c == "data"
                else row[c]
                for c in COLUMNS
            )
            for row in rows
        ]
        marks = ", ".join("?" for _ in COLUMNS)
    elif conn.dialect.driver == "psycopg":
        from psycopg.types.json import Jsonb  # the PostgreSQL driver, present with it

        params = [
            tuple(
                (None if row["data"] is None else Jsonb(row["data"])) if c == "data" else row[c]
                for c in COLUMNS
            )
            for row in rows
        ]
        if (
            len(params) >= COPY_ROWS
            and conn.engine not in _copy_refused
            and _copied(conn, names, params)
        ):
            return
        marks = ", ".join("%s" for _ in COLUMNS)
    else:
        conn.execute(events.insert(), rows)
        return
    conn.exec_driver_sql(f"INSERT INTO om_experiment_events ({names}) VALUES ({marks})", params)


# Engines whose role may not COPY into the table: PostgreSQL refuses COPY FROM into a table
# with row-level security for a role it applies to (a bucket's credential); they INSERT.
_copy_refused: weakref.WeakSet[Any] = weakref.WeakSet()


def _copied(conn: Any, names: str, params: list[tuple]) -> bool:
    """COPY the rows (one stream, no statement per row: what a 100k-point run needs) in a
    savepoint; False, and the engine remembered, when the role may not COPY."""
    import psycopg

    try:
        with conn.begin_nested():
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                with cursor.copy(f"COPY om_experiment_events ({names}) FROM STDIN") as copy:
                    for item in params:
                        copy.write_row(item)
            finally:
                cursor.close()
    except psycopg.errors.FeatureNotSupported:
        _copy_refused.add(conn.engine)
        return False
    return True


def _resolved(row: dict[str, Any]) -> dict[str, Any]:
    # a callable ``data`` is computed now: work a caller chose not to do on its own path
    data = row.get("data")
    return {**row, "data": data()} if callable(data) else row


_recorders: weakref.WeakKeyDictionary[Any, EventRecorder] = weakref.WeakKeyDictionary()
_recorders_lock = threading.Lock()


def recorder_for(db: Database) -> EventRecorder:
    """The recorder of ``db`` (one per process and database)."""
    with _recorders_lock:
        recorder = _recorders.get(db)
        if recorder is None:
            recorder = _recorders[db] = EventRecorder(db)
        return recorder


def flush_all(report: bool = False) -> int:
    """Flush every recorder; with ``report``, errors go to stderr instead of being raised."""
    with _recorders_lock:
        recorders = list(_recorders.values())
    written = 0
    for recorder in recorders:
        try:
            written += recorder.flush()
        except Exception as exc:
            if not report:
                raise
            print(
                f"omega_jupyter: {recorder.pending} experiment event(s) not written: {exc}",
                file=sys.stderr,
            )
    return written


class _Flusher:
    """The background thread that writes queued events every ``FLUSH_SECONDS``."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._event = threading.Event()
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="omega-experiment-events", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        self._event.set()

    def _loop(self) -> None:
        while True:
            self._event.wait(FLUSH_SECONDS)
            self._event.clear()
            _quiet_flush()


def _quiet_flush() -> None:
    try:
        flush_all(report=False)
    except Exception:
        pass  # the rows stay queued; the next flush, a run's end or atexit tries again


_flusher = _Flusher()
atexit.register(flush_all, report=True)
