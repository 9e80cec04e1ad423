"""Schedules in the database: one per job or script, with its next due time.

Every change bumps a counter in ``om_scheduler_state`` that running loops poll (~1 s) so a new
or changed schedule is picked up at once instead of after a long sleep.

A paused schedule (``enabled`` false) keeps its settings but is never claimed. Resuming it
computes the next due time from the moment of the resume: slots that fell during the pause are
not run, whatever the ``missed`` policy (that policy is about downtime, not about a pause).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.exceptions import (
    InvalidParameterError,
    InvalidScheduleError,
    ObjectNotFoundError,
)
from omega_jupyter.jobs import timetable
from omega_jupyter.jobs.tables import (
    MISSED_POLICIES,
    schedule_slots,
    scheduler_state,
    schedules,
)
from omega_jupyter.names import validate_name
from omega_jupyter.runtime.groups import check_members, check_parallel
from omega_jupyter.runtime.reconcile import MAX_RETRIES
from omega_jupyter.storage import audit
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import aware, now

CHANGES_KEY = "changes"


def bump_changes(conn: Connection) -> None:
    """Increment the change counter (creating it on first use) inside ``conn``'s transaction."""
    done = conn.execute(
        sa.update(scheduler_state)
        .where(scheduler_state.c.key == CHANGES_KEY)
        .values(value=scheduler_state.c.value + 1)
    ).rowcount
    if not done:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(scheduler_state).values(key=CHANGES_KEY, value=1))
        except sa.exc.IntegrityError:
            bump_changes(conn)


def read_changes(conn: Connection) -> int:
    value = conn.execute(
        sa.select(scheduler_state.c.value).where(scheduler_state.c.key == CHANGES_KEY)
    ).scalar()
    return int(value or 0)


def validate_policy(missed: str, max_retries: Any) -> int:
    if missed not in MISSED_POLICIES:
        raise InvalidScheduleError(
            f"missed={missed!r} is not a policy; use one of {', '.join(MISSED_POLICIES)}"
        )
    if (
        isinstance(max_retries, bool)
        or not isinstance(max_retries, int)
        or not 0 <= max_retries <= MAX_RETRIES
    ):
        raise InvalidScheduleError(
            f"max_retries must be an integer from 0 to {MAX_RETRIES}, not {max_retries!r}"
        )
    return max_retries


class ScheduleStore:
    """Schedules of one bucket (jobs and scripts alike, told apart by ``kind``)."""

    def __init__(self, db: Database, bucket: str) -> None:
        self.db = db
        self.bucket = bucket

    def put(
        self,
        kind: str,
        target: str,
        when: str,
        parameters: dict | None = None,
        missed: str = "once",
        max_retries: int = 0,
        timezone: str | None = None,
        start: datetime | None = None,
        paused: bool | None = None,
        map: Any = None,
        max_parallel: int | None = None,
    ) -> dict:
        """Create or replace the schedule of ``target``; returns it with its next times.

        ``paused=None`` keeps the paused state of an existing schedule (a new one is active);
        ``True``/``False`` sets it. ``map`` (a list of parameter dicts) makes every slot start
        a run group of one member per dict (``parameters`` go to each), ``max_parallel`` of
        them at once.
        """
        validate_name(target)
        cron = timetable.to_cron(when)
        timetable.zone(timezone)
        validate_policy(missed, max_retries)
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidScheduleError("parameters must be a dict")
        if paused is not None and not isinstance(paused, bool):
            raise InvalidScheduleError(f"paused must be true, false or null, not {paused!r}")
        members = None
        if map is not None:
            try:
                members = check_members(map)
                if max_parallel is not None:
                    max_parallel = check_parallel(max_parallel)
            except InvalidParameterError as exc:
                raise InvalidScheduleError(str(exc)) from None
        elif max_parallel is not None:
            raise InvalidScheduleError("max_parallel applies to a schedule with map=")
        stamp = start or now()
        next_due = timetable.next_times(cron, stamp, 1, timezone)[0]
        values = {
            "cron": cron,
            "text": str(when).strip(),
            "timezone": timezone,
            "parameters": parameters or {},
            "missed": missed,
            "max_retries": max_retries,
            "next_due": next_due,
            "last_slot": None,
            "modified": stamp,
            "created_by": audit.current_actor(),  # its runs are submitted in this name
            "map_members": members,
            "max_parallel": max_parallel,
        }
        if paused is not None:
            values["enabled"] = not paused
        self.db.ensure_schema()
        with self.db.begin() as conn:
            key = self._key(kind, target)
            updated = conn.execute(sa.update(schedules).where(key).values(**values)).rowcount
            if not updated:
                conn.execute(
                    sa.insert(schedules).values(
                        bucket=self.bucket,
                        kind=kind,
                        target=target,
                        created=stamp,
                        **{"enabled": True, **values},
                    )
                )
            bump_changes(conn)
        return self.get(kind, target)

    def pause(self, kind: str, target: str) -> dict:
        """Stop claiming the schedule of ``target`` (its settings are kept); returns it.

        Pausing a paused schedule changes nothing. Unknown schedule: ObjectNotFoundError.
        """
        self.db.ensure_schema()
        with self.db.begin() as conn:
            done = conn.execute(
                sa.update(schedules)
                .where(self._key(kind, target) & schedules.c.enabled)
                .values(enabled=False, modified=now())
            ).rowcount
            if done:
                bump_changes(conn)
        return self.get(kind, target)  # raises ObjectNotFoundError when there is none

    def resume(self, kind: str, target: str, start: datetime | None = None) -> dict:
        """Claim the schedule of ``target`` again; returns it.

        The next due time is computed from ``start`` (default: now), so the slots that fell
        during the pause are not run. Resuming an active schedule changes nothing.
        Unknown schedule: ObjectNotFoundError.
        """
        stamp = start or now()
        self.db.ensure_schema()
        with self.db.begin() as conn:
            query = sa.select(schedules).where(self._key(kind, target))
            if self.db.is_postgres:
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                raise ObjectNotFoundError(f"{kind} {target!r} has no schedule")
            if not row.enabled:
                next_due = timetable.next_times(row.cron, stamp, 1, row.timezone)[0]
                conn.execute(
                    sa.update(schedules)
                    .where(schedules.c.id == row.id)
                    .values(enabled=True, next_due=next_due, modified=stamp)
                )
                bump_changes(conn)
        return self.get(kind, target)

    def _key(self, kind: str, target: str) -> sa.ColumnElement[bool]:
        return (
            (schedules.c.bucket == self.bucket)
            & (schedules.c.kind == kind)
            & (schedules.c.target == target)
        )

    def delete(self, kind: str, target: str, missing_ok: bool = False) -> bool:
        self.db.ensure_schema()
        with self.db.begin() as conn:
            # Its claimed slots go first (under row-level security they are visible through
            # their schedule): left behind, they would belong to a later schedule that gets
            # the same id (SQLite reuses the highest rowid) and block its slots.
            ids = sa.select(schedules.c.id).where(self._key(kind, target))
            conn.execute(sa.delete(schedule_slots).where(schedule_slots.c.schedule_id.in_(ids)))
            done = conn.execute(sa.delete(schedules).where(self._key(kind, target))).rowcount
            if done:
                bump_changes(conn)
        if not done and not missing_ok:
            raise ObjectNotFoundError(f"{kind} {target!r} has no schedule")
        return bool(done)

    def get(self, kind: str, target: str) -> dict:
        self.db.ensure_schema()
        with self.db.connect() as conn:
            row = conn.execute(sa.select(schedules).where(self._key(kind, target))).first()
        if row is None:
            raise ObjectNotFoundError(f"{kind} {target!r} has no schedule")
        return describe_row(row)

    def _described(self, kind: str | None, target: str | None = None) -> list[dict]:
        query = sa.select(schedules).where(schedules.c.bucket == self.bucket)
        if kind:
            query = query.where(schedules.c.kind == kind)
        if target:
            query = query.where(schedules.c.target == target)
        self.db.ensure_schema()
        with self.db.connect() as conn:
            return [describe_row(r, upcoming=1) for r in conn.execute(query.order_by("target"))]

    def frame(self, kind: str | None = None, target: str | None = None) -> pd.DataFrame:
        columns = ["kind", "name", "when", "cron", "description", "paused", "next_due", "missed"]
        columns += ["max_retries", "timezone", "parameters"]
        return pd.DataFrame(self._described(kind, target), columns=columns)

    def briefs(self, kind: str) -> dict[str, dict]:
        """What a list of objects shows of their schedules: name → ``when``, ``description``,
        ``paused`` and ``next_due`` (None while paused), for every ``kind`` schedule."""
        return {
            d["name"]: {
                "when": d["when"],
                "description": d["description"],
                "paused": d["paused"],
                "next_due": None if d["paused"] else d["next_due"],
            }
            for d in self._described(kind)
        }


def describe_row(row: Any, upcoming: int = 5) -> dict:
    """A schedule row as a dict with its description and next times."""
    m = row._mapping
    next_due = aware(m["next_due"])
    times = [next_due]
    if upcoming > 1:
        times += timetable.next_times(m["cron"], next_due, upcoming - 1, m["timezone"])
    return {
        "id": m["id"],
        "kind": m["kind"],
        "name": m["target"],
        "when": m["text"],
        "cron": m["cron"],
        "description": timetable.describe(m["cron"]),
        "paused": not m["enabled"],
        "next_due": next_due,
        "next_times": times,
        "missed": m["missed"],
        "max_retries": m["max_retries"],
        "timezone": m["timezone"],
        "parameters": dict(m["parameters"] or {}),
        "created_by": m["created_by"],
        **(
            {"map": list(m["map_members"]), "max_parallel": m["max_parallel"]}
            if m.get("map_members") is not None
            else {}
        ),
    }
