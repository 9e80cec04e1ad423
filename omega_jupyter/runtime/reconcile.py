"""Runs that lose their worker, for every kind of run: failed with a clear reason, then
retried per the run's ``max_retries``.

A run is lost when its worker stops beating (killed, out of memory, its machine gone), when
a copy of its task that Dask re-ran finds it so (``lifecycle.run_task``), or when it waited
in the queue for longer than anyone should. A :class:`RunReconciler` finds such runs and

- fails a running run whose heartbeat is older than ``stale_after`` (three missed beats by
  default) and a queued run older than ``queued_after`` whose task Dask no longer holds, each
  with one conditional update:
  of any number of reconcilers (scheduler loops, servers, handles that wait), exactly one
  fails a run and publishes its ``finished`` message;
- retries a lost run while its attempts are fewer than ``1 + max_retries``: a retry is a new
  run row that names its previous attempt (``retry_of``) and counts on (``attempt``); the
  previous attempt keeps its error, marked `` (retried)`` by the same conditional update
  that decides who creates the retry, so a run is retried once whoever watches it.

A queued run past ``queued_after`` is only lost if the Dask scheduler does not hold its task
(waiting, queued or processing): a backlog of runs queued behind others on the cluster is
not failed however long it waits. When the reconciler has no Dask client to ask (or the
scheduler does not answer), it fails such a run as before: its task is most likely gone.

Retries are returned, not sent: the caller sends them (:func:`send`) with its own Dask client.
Only lost runs are retried: a run whose own code failed fails for good.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.exceptions import InvalidParameterError
from omega_jupyter.runtime.events import publish_ended
from omega_jupyter.runtime.tables import runs as runtime_runs
from omega_jupyter.runtime.worker import (
    DEAD_AFTER_BEATS,
    HEARTBEAT_SECONDS,
    client_for_database,
)
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import aware, now

log = logging.getLogger("omega_jupyter.runtime")

STALE_AFTER_SECONDS = DEAD_AFTER_BEATS * HEARTBEAT_SECONDS  # three missed beats
QUEUED_AFTER_SECONDS = 600.0
RECONCILE_SECONDS = 5.0  # how often a server's reconcile loop looks (one beat)
# Dask task states of a run that is still coming: not lost however long it waits
HELD_STATES = frozenset({"waiting", "queued", "processing"})

# Every error of a run that lost its worker starts so (this module, the lifecycle's copy that
# finds its run dead, a handle whose task Dask lost); a retried one ends with RETRIED.
LOST = "the worker running this "
RETRIED = " (retried)"


def task_key(run_id: str) -> str:
    """The Dask key of a run's task."""
    return f"omega-run-{run_id}"


def held_by_dask(client: Any, run_ids: list[str]) -> set[str] | None:
    """The runs among ``run_ids`` whose tasks the Dask scheduler of ``client`` still holds
    (waiting, queued behind others, or processing); None if it cannot be asked."""
    if client is None or not run_ids:
        return set() if client is not None else None
    keys = [task_key(r) for r in run_ids]
    try:
        states = client.sync(client.scheduler.get_task_status, keys=keys)
    except Exception as exc:
        log.warning("could not ask the Dask scheduler about queued runs: %s", exc)
        return None
    return {r for r, k in zip(run_ids, keys, strict=True) if states.get(k) in HELD_STATES}


def attempt_number(run: Any) -> int:
    """Which attempt a run row is (1 for a first run): ``attempt`` counts on when it starts."""
    return int(run.attempt or 0) + (0 if run.started is not None else 1)


def stale_message(run: Any, noun: str = "run") -> str:
    """The reason a run whose heartbeat stopped is failed with (``noun``: what the run is)."""
    last = run.heartbeat if run.heartbeat is not None else run.started or run.submitted
    stamp = aware(last).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"{LOST}{noun} stopped sending heartbeats (last at {stamp}); attempt {attempt_number(run)}"
    )


def retries_left(run: Any) -> bool:
    """Whether a run that lost its worker is tried again (per its ``max_retries``)."""
    return attempt_number(run) <= int(run.max_retries or 0)


# Tries again a run may have: a bound any sane retry policy stays under (and the column fits).
MAX_RETRIES = 100


def check_retries(max_retries: Any, default: int) -> int:
    """``max_retries`` as given (an integer 0 to ``MAX_RETRIES``), or ``default`` when it is
    None."""
    if max_retries is None:
        return default
    if (
        isinstance(max_retries, bool)
        or not isinstance(max_retries, int)
        or not 0 <= max_retries <= MAX_RETRIES
    ):
        raise InvalidParameterError(
            f"max_retries must be an integer from 0 to {MAX_RETRIES}, not {max_retries!r}"
        )
    return max_retries


def task_record(parameters: Any, temporary: list[str], extra: dict[str, Any]) -> dict | None:
    """What a retry's task is sent, as JSON for the run row (``Runtime.submit``'s
    ``parameters``, ``temporary`` and ``extra``); None if it is not JSON-able — such a run
    is not retried, since no other process could send it as it was."""
    task = {"parameters": parameters, "temporary": list(temporary), **extra}
    try:
        return json.loads(json.dumps(task))
    except (TypeError, ValueError):
        return None


@dataclass
class Retry:
    """A run to send to Dask: a new attempt of a lost run (its row exists, queued)."""

    run_id: str
    bucket: str
    kind: str
    target: str
    parameters: dict
    task: dict | None = None  # what its task is sent besides the run's references
    resend: bool = False  # an existing run sent again: a failed submission must not fail it
    resources: dict | None = None  # the worker resources the run asked for


def send(om: Any, item: Any, runtime: Any = None) -> Any:
    """Send a retry (or a scheduler's claim) with ``om``'s Dask client (or ``runtime``'s, of
    the same bucket); returns its handle. A retry goes to workers with the resources its
    first attempt asked for."""
    if runtime is None:
        runtime = (om if item.bucket == om.bucket else om[item.bucket]).runtime
    resources = getattr(item, "resources", None)
    if resources and resources != runtime.resources:
        runtime = runtime.require(resources)
    task = dict(getattr(item, "task", None) or {})
    parameters = task.pop("parameters", item.parameters)
    return runtime.submit(
        item.kind,
        item.run_id,
        item.target,
        parameters,
        fail_on_error=not item.resend,  # a resent run may be queued elsewhere
        **task,
    )


class RunReconciler:
    """Fails lost runs of every kind and makes their retries (see the module docstring).

    ``buckets`` limits it to those buckets, ``run_ids`` to those runs (a handle reconciles
    its own run). A failed run that names a ``result_stream`` gets its ``finished`` message
    there; ``om`` is the client to publish with and to drop a run's staged inputs, by
    default one made for ``db``. ``dask()`` returns the Dask client asked whether a queued
    run's task is still held (None: cannot tell); by default the one ``om``'s process is
    already connected to, never a new cluster.
    """

    table: Any = runtime_runs

    def __init__(
        self,
        db: Database,
        stale_after: float = STALE_AFTER_SECONDS,
        queued_after: float = QUEUED_AFTER_SECONDS,
        buckets: list[str] | None = None,
        loop_id: str | None = None,
        om: Any = None,
        run_ids: list[str] | None = None,
        dask: Callable[[], Any] | None = None,
    ) -> None:
        self.db = db
        self.om = om
        self.dask = dask
        self.stale_after = timedelta(seconds=stale_after)
        self.queued_after = timedelta(seconds=queued_after)
        self.buckets = buckets
        self.run_ids = run_ids
        self.loop_id = loop_id or f"reconciler:{uuid.uuid4().hex[:8]}"

    # -- one pass -----------------------------------------------------------------------------
    def reconcile(self, now: datetime) -> list[Any]:
        """Fail lost runs (one conditional transaction each); returns the retries to send."""
        self.db.ensure_schema()
        return self._fail_stale(now) + self._retry_lost(now)

    def _scoped(self, query: sa.Select) -> sa.Select:
        runs = self.table
        if self.buckets is not None:
            query = query.where(runs.c.bucket.in_(self.buckets))
        if self.run_ids is not None:
            query = query.where(runs.c.id.in_(self.run_ids))
        return query

    def _stale(self, now: datetime) -> Any:
        runs = self.table
        running_cutoff, queued_cutoff = now - self.stale_after, now - self.queued_after
        return (
            (runs.c.state == "running")
            & (sa.func.coalesce(runs.c.heartbeat, runs.c.submitted) < running_cutoff)
        ) | ((runs.c.state == "queued") & (runs.c.submitted < queued_cutoff))

    def _dask_client(self) -> Any:
        try:
            if self.dask is not None:
                return self.dask()
            if self.om is not None:
                from omega_jupyter.runtime import cluster

                return cluster.current_client(self.om.settings.dask_address, self.om.settings.home)
        except Exception as exc:  # e.g. the cluster unreachable: cannot tell
            log.warning("no Dask client to ask about queued runs: %s", exc)
        return None

    def _fail_stale(self, now: datetime) -> list[Any]:
        runs, stale = self.table, self._stale(now)
        with self.db.connect() as conn:
            found = conn.execute(self._scoped(sa.select(runs.c.id, runs.c.state)).where(stale))
            candidates = [(r.id, r.state) for r in found]
        queued = [run_id for run_id, state in candidates if state == "queued"]
        held: set[str] | None = set()
        if queued:
            held = held_by_dask(self._dask_client(), queued)
            if held:
                log.info("%d queued run(s) past the cutoff still held by Dask", len(held))
        retries = []
        for run_id, _state in candidates:
            if held and run_id in held:
                continue  # queued behind others on the cluster: not lost
            with self.db.begin() as conn:
                run = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
                if run is None:
                    continue
                if run.state == "running":
                    message = stale_message(run)
                else:
                    gone = "" if held is None else " and Dask no longer holds its task"
                    message = (
                        f"the run waited over {self.queued_after.total_seconds():g} s in the "
                        f"queue{gone}: no worker took it; attempt {attempt_number(run)}"
                    )
                retry = None
                failed = conn.execute(
                    sa.update(runs)
                    .where((runs.c.id == run_id) & stale)
                    .values(state="failed", finished=now, error=message)
                ).rowcount
                if failed:  # else another reconciler failed it, or it beat meanwhile
                    run = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()
                    retry = self._retry(conn, run, now, mark=True)
            if failed:  # published once committed, by the reconciler that failed it
                self._ended(run, retried=retry is not None)
            if retry is not None:
                retries.append(retry)
        return retries

    def _retry_lost(self, now: datetime) -> list[Any]:
        """Lost runs failed by someone else (the copy of a task Dask re-ran after the worker
        died, a handle whose task was lost) are retried per max_retries too."""
        runs = self.table
        lost = (
            (runs.c.state == "failed")
            & runs.c.error.like(f"{LOST}%")
            & ~runs.c.error.like(f"%{RETRIED}")
            & (
                runs.c.attempt + sa.case((runs.c.started.is_(None), 1), else_=0)
                <= runs.c.max_retries
            )
        )
        with self.db.connect() as conn:
            candidates = [
                r.id for r in conn.execute(self._scoped(sa.select(runs.c.id)).where(lost))
            ]
        retries = []
        for run_id in candidates:
            with self.db.begin() as conn:
                run = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()
                if not self._may_retry(conn, run):
                    continue
                marked = conn.execute(
                    sa.update(runs)
                    .where((runs.c.id == run_id) & lost)
                    .values(error=runs.c.error + RETRIED)
                ).rowcount
                if not marked:
                    continue  # another reconciler retried it
                retry = self._retry(conn, run, now, mark=False)
            if retry is not None:
                retries.append(retry)
        return retries

    # -- retries --------------------------------------------------------------------------------
    def _may_retry(self, conn: Connection, run: Any) -> bool:
        """Whether the lost ``run`` gets another attempt (subclasses add conditions)."""
        return retries_left(run)

    def _retry(self, conn: Connection, run: Any, now: datetime, mark: bool) -> Any:
        """The next attempt of the lost ``run`` (a new queued row), or None if its retries are
        used up; ``mark``: append RETRIED to the failed run's error here."""
        if not self._may_retry(conn, run):
            return None
        runs = self.table
        retry_id = uuid.uuid4().hex
        values = dict(run._mapping)
        values.update(
            id=retry_id,
            state="queued",
            submitted=now,
            started=None,
            finished=None,
            worker=None,
            heartbeat=None,
            result=None,
            error=None,
            traceback=None,
            progress=None,
            attempt=attempt_number(run),  # the retry's start counts it on
            retry_of=run.id,
        )
        conn.execute(sa.insert(runs).values(**values))
        if mark:
            conn.execute(
                sa.update(runs).where(runs.c.id == run.id).values(error=runs.c.error + RETRIED)
            )
        self._after_retry(conn, run, retry_id, now)
        return self._item(conn, run, retry_id)

    def _after_retry(self, conn: Connection, run: Any, retry_id: str, now: datetime) -> None:
        """Subclasses move what pointed at ``run`` to its retry."""

    def _item(self, conn: Connection, run: Any, retry_id: str) -> Any:
        params = dict(run.parameters or {})
        task = dict(run.task) if run.task is not None else None
        resources = dict(run.resources) if run.resources else None
        return Retry(retry_id, run.bucket, run.kind, run.target, params, task, resources=resources)

    # -- after a failure ------------------------------------------------------------------------
    def _client(self, bucket: str) -> Any:
        if self.om is not None:
            return self.om
        return client_for_database(self.db, bucket)

    def _ended(self, run: Any, retried: bool) -> None:
        """Publish ``finished`` (failed) to the run's stream; drop the inputs staged for it
        unless a retry reads them. Best effort, never raises."""
        staged = (run.task or {}).get("temporary") if not retried else None
        if not run.result_stream and not staged:
            return
        try:
            om = self._client(run.bucket)
        except Exception as exc:  # e.g. an unreadable config file
            log.warning("run %s: could not publish 'finished': %s", run.id, exc)
            return
        if run.result_stream:
            publish_ended(om, run, "failed", run.error)
        if staged:
            om[run.bucket].runtime.drop_temporary(list(staged))


class ReconcileLoop:
    """Reconciles lost runs every ``every`` seconds in a daemon thread and sends their retries
    with ``om``'s Dask client: what a server runs when no scheduler loop runs in it."""

    def __init__(
        self,
        om: Any,
        every: float = RECONCILE_SECONDS,
        buckets: list[str] | None = None,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self.om = om
        self.every = every
        self.clock = clock
        self.buckets = buckets
        self.reconciler: RunReconciler | None = None  # made on the first pass: a database
        # that is down when the server starts is an error of that pass, not of the server
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, name="omega-reconcile", daemon=True)

    def tick(self) -> list[Any]:
        """One pass: fail lost runs, send their retries; returns the retries."""
        if self.reconciler is None:
            self.reconciler = RunReconciler(self.om.db, buckets=self.buckets, om=self.om)
        retries = self.reconciler.reconcile(self.clock())
        for retry in retries:
            try:
                send(self.om, retry)
            except Exception as exc:  # the retry's row says why (failed submission)
                log.error("could not send retry %s: %s", retry.run_id, exc)
        return retries

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.tick()
            except Exception as exc:  # e.g. the database restarting: try again next time
                log.error("reconciling runs failed: %s", exc)

    def start(self) -> ReconcileLoop:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
