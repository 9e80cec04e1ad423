"""``om.jobs``: notebooks, their runs and executed results, and their schedules."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from nbformat import NotebookNode

from omega_jupyter.exceptions import (
    InvalidParameterError,
    ObjectNotFoundError,
    UnsupportedObjectError,
)
from omega_jupyter.jobs.notebooks import NotebookBlobs, complete_kernel, same_notebook, to_notebook
from omega_jupyter.jobs.schedules import ScheduleStore
from omega_jupyter.jobs.tables import runs
from omega_jupyter.names import validate_name
from omega_jupyter.settings import Settings
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import Metadata, aware
from omega_jupyter.storage.objects import VersionedStore

RUN_COLUMNS = [
    "id",
    "state",
    "trigger",
    "scheduled_for",
    "submitted_at",
    "started_at",
    "finished_at",
    "error",
    "attempt",
    "progress",
    "result",
]
EXPORT_FORMATS = ("html", "markdown", "python", "script", "notebook", "latex", "rst", "asciidoc")


class RunnableStore(VersionedStore):
    """A store whose objects run on workers (``kind`` in the runs and schedules tables):
    their runs, and schedules that go with them when they are dropped."""

    kind = ""

    def _after_drop(self, name: str) -> None:
        self.schedules_store.delete(self.kind, name, missing_ok=True)

    def runs(self, name: str, limit: int | None = 100) -> pd.DataFrame:
        """Runs, newest first (``trigger`` is ``manual`` or ``schedule``)."""
        return runs_frame(self.db, self.bucket, self.kind, validate_name(name), limit)

    @property
    def schedules_store(self) -> ScheduleStore:
        return ScheduleStore(self.db, self.bucket)

    def schedule(
        self,
        name: str,
        when: str,
        parameters: dict | None = None,
        missed: str = "once",
        max_retries: int = 0,
        timezone: str | None = None,
        paused: bool | None = None,
        map: Any = None,  # the word of job(name).map
        max_parallel: int | None = None,
    ) -> dict:
        """Run ``name`` on a schedule (cron or text such as ``weekdays at 08:30``).

        Changing a schedule keeps it paused or active as it was unless ``paused`` is given;
        a new schedule is active unless ``paused=True``. ``map`` (parameter dicts): every
        slot starts a run group, one member per dict, ``max_parallel`` (default 4) at once.
        """
        self.metadata(name)  # unknown targets are refused before anything is written
        return self.schedules_store.put(
            self.kind,
            name,
            when,
            parameters,
            missed,
            max_retries,
            timezone,
            paused=paused,
            map=map,
            max_parallel=max_parallel,
        )

    def unschedule(self, name: str) -> bool:
        """Remove the schedule of ``name`` (the object stays; ObjectNotFoundError if it has
        none)."""
        return self.schedules_store.delete(self.kind, validate_name(name))

    def pause(self, name: str) -> dict:
        """Stop running ``name`` on its schedule, keeping the schedule; returns it."""
        return self.schedules_store.pause(self.kind, validate_name(name))

    def resume(self, name: str) -> dict:
        """Run ``name`` on its schedule again, from the next slot after now: the slots that
        fell during the pause are not run. Returns the schedule."""
        return self.schedules_store.resume(self.kind, validate_name(name))

    def schedule_info(self, name: str) -> dict:
        """The schedule of ``name``: when, cron, description, next times, paused, policy
        (ObjectNotFoundError if it has none)."""
        return self.schedules_store.get(self.kind, name)

    def schedules(self, name: str | None = None) -> pd.DataFrame:
        """Schedules: when, description, paused, next due, policy."""
        return self.schedules_store.frame(self.kind, name)

    def schedule_briefs(self) -> dict[str, dict]:
        """name → its schedule's ``when``, ``description``, ``paused``, ``next_due``."""
        return self.schedules_store.briefs(self.kind)


class JobStore(RunnableStore):
    """The notebooks of one bucket. Names may have folders (``reports/daily``).

    ``drop`` removes every version of a notebook and its schedule (results and runs are kept).
    """

    store_name = "jobs"
    noun = "job"
    kind = "job"

    def __init__(self, db: Database, bucket: str, settings: Settings) -> None:
        super().__init__(db, bucket, settings)
        self.notebooks = NotebookBlobs(db, bucket, settings, self.store_name)
        self.results_store = NotebookBlobs(db, bucket, settings, "job_results")

    # -- notebooks ------------------------------------------------------------------------
    def put(self, obj: Any, name: str, attributes: dict | None = None) -> Metadata:
        """Store a notebook (NotebookNode, dict, JSON text or .ipynb path) as a new version.

        The notebook is validated with nbformat first; an invalid one stores nothing. One that
        names no kernel or language gets the Python kernel's (see ``complete_kernel``). A
        notebook with the same content as the latest version stores nothing either and
        returns that version (see :meth:`save`).
        """
        return self.save(obj, name, attributes)[0]

    def save(self, obj: Any, name: str, attributes: dict | None = None) -> tuple[Metadata, bool]:
        """Store a notebook unless it equals the latest version: ``(version, created)``.

        Equal means the same cells (source, outputs, execution counts, metadata) and notebook
        metadata, not counting what an editor or kernel fills in on opening (cell ids,
        ``language_info``, ``nbformat_minor``). An editor saving an unchanged notebook (every
        Ctrl+S, every autosave) so makes no new version; new ``attributes`` always do.
        """
        validate_name(name)
        node = complete_kernel(to_notebook(obj))
        if attributes is None:
            latest = self.notebooks.meta.latest(name)
            if latest is not None and same_notebook(self.notebooks.get_version(latest), node):
                return latest, False
        return self.notebooks.put(node, name, attributes=attributes), True

    def get(self, name: str) -> NotebookNode:
        """The notebook (``name@2`` for an older version)."""
        return self.notebooks.get(name)

    def history(self, name: str) -> list[dict[str, Any]]:
        """Every kept version of notebook ``name``, newest first: ``version``, ``created``,
        ``size``, ``cells`` and ``restored_from`` (the version a restore copied, else None)."""
        metas = self.notebooks.meta.versions(validate_name(name))
        if not metas:
            raise ObjectNotFoundError(f"job {name!r} does not exist")
        return [
            {
                "version": m.version,
                "created": m.created.isoformat(),
                "size": m.size,
                "cells": m.kind_meta.get("cells"),
                "restored_from": m.attributes.get("restored_from"),
            }
            for m in reversed(metas)
        ]

    def restore(self, name: str, version: int) -> Metadata:
        """Store version ``version`` of notebook ``name`` again, as its newest version (the
        versions in between stay). Always a new version, even when it equals the latest."""
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidParameterError(f"version must be a positive integer, not {version!r}")
        node = self.notebooks.get(f"{validate_name(name)}@{version}")
        return self.notebooks.put(node, name, attributes={"restored_from": version})

    # -- results --------------------------------------------------------------------------
    def results(self, name: str | None = None) -> pd.DataFrame:
        """The executed notebooks (of one job, or all): result name, run id, created, failed."""
        pattern = f"{validate_name(name)}/*" if name else None
        metas = self.results_store.meta.list(pattern)
        return pd.DataFrame(
            {
                "result": [m.name for m in metas],
                "job": [m.attributes.get("job") for m in metas],
                "run_id": [m.attributes.get("run_id") for m in metas],
                "created": [m.created for m in metas],
                "failed": [bool(m.attributes.get("failed")) for m in metas],
            }
        ).sort_values("created", ascending=False, ignore_index=True)

    def result(self, name_or_run_id: str) -> NotebookNode:
        """An executed notebook by result name (``job/<run id>``), run id or job (newest)."""
        return self.results_store.get(self._result_name(name_or_run_id))

    def _result_name(self, ref: str) -> str:
        if self.results_store.meta.latest(ref) is not None:
            return ref
        found = self.results_store.meta.list(f"*/{ref}")
        if found:
            return found[0].name
        newest = self.results(ref) if self.exists(ref) else None
        if newest is not None and len(newest):
            return str(newest["result"].iloc[0])
        raise ObjectNotFoundError(f"no executed notebook {ref!r} (a result name, run id or job)")

    def export(self, name_or_result: str, format: str = "html") -> str:
        """Render an executed notebook (or the newest result of a job, else the notebook itself)
        with nbconvert; returns the text."""
        import nbconvert

        if format not in EXPORT_FORMATS:
            raise UnsupportedObjectError(
                f"cannot export to {format!r}; use one of {', '.join(EXPORT_FORMATS)}"
            )
        try:
            node = self.result(name_or_result)
        except ObjectNotFoundError:
            node = self.get(name_or_result)
        exporter = nbconvert.get_exporter(format)()
        body, _resources = exporter.from_notebook_node(node)
        return body


def runs_frame(
    db: Database, bucket: str, kind: str, name: str, limit: int | None = 100
) -> pd.DataFrame:
    """Runs of one target as a DataFrame with :data:`RUN_COLUMNS`, newest first."""
    query = (
        sa.select(
            runs.c.id,
            runs.c.state,
            runs.c.trigger,
            runs.c.scheduled_for,
            runs.c.submitted.label("submitted_at"),
            runs.c.started.label("started_at"),
            runs.c.finished.label("finished_at"),
            runs.c.error,
            runs.c.attempt,
            runs.c.progress,
            runs.c.result,
        )
        .where((runs.c.bucket == bucket) & (runs.c.kind == kind) & (runs.c.target == name))
        .order_by(runs.c.submitted.desc(), runs.c.id)
    )
    if limit:
        query = query.limit(int(limit))
    db.ensure_schema()
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        for key in ("scheduled_for", "submitted_at", "started_at", "finished_at"):
            if row[key] is not None:
                row[key] = aware(row[key])
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    for key in ("scheduled_for", "submitted_at", "started_at", "finished_at"):
        frame[key] = pd.to_datetime(frame[key], utc=True)
    return frame
