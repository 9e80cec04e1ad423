"""The runs the JupyterLab panel lists: ``GET /panel/runs``.

Two shapes of one listing:

- ``collapse=true`` (the side panel's Runs section): runs outside any group and one item per
  run group (``type: "group"``) with its counts by state and its failed members, newest first;
- otherwise (the Runs view in the main area): every run, filtered by state, kind, target,
  action, trigger (``map``: the members of run groups) or group, sorted by any column the
  table shows.

Plain functions on a client (no tornado), like ``panel``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.runtime.runs import _record
from omega_jupyter.runtime.tables import RUN_STATES, run_groups, runs

SORTS = ("submitted", "started", "finished", "duration", "target", "action", "state", "attempt")
TRIGGERS = ("manual", "schedule", "api", "map")
FAILED_SHOWN = 50  # failed members listed with a group in the collapsed listing


def _states(state: str | None) -> list[str] | None:
    if not state:
        return None
    states = [s.strip() for s in state.split(",") if s.strip()]
    unknown = sorted(set(states) - set(RUN_STATES))
    if unknown:
        raise BadRequestError(f"unknown run state(s) {unknown}; use {', '.join(RUN_STATES)}")
    return states


def _duration(om: Omega) -> sa.ColumnElement:
    """Seconds from start to end (to now while running); null before the start."""
    if om.db.is_postgres:
        end = sa.func.coalesce(runs.c.finished, sa.func.now())
        return sa.extract("epoch", end - runs.c.started)
    end = sa.func.coalesce(runs.c.finished, sa.func.datetime("now"))
    return (sa.func.julianday(end) - sa.func.julianday(runs.c.started)) * 86400.0


def _run_filters(
    query: sa.Select,
    om: Omega,
    *,
    states: list[str] | None,
    kind: str | None,
    target: str | None,
    action: str | None,
    trigger: str | None,
    group: str | None,
    search: str | None = None,
) -> sa.Select:
    query = query.where(runs.c.bucket == om.bucket)
    if search:  # the panel's search box: a substring of the target, any case
        query = query.where(_contains(runs.c.target, search))
    if states:
        query = query.where(runs.c.state.in_(states))
    if kind:
        query = query.where(runs.c.kind == kind)
    if target:
        query = query.where(runs.c.target == target)
    if action:
        query = query.where(runs.c.action == action)
    if trigger == "map":
        query = query.where(runs.c.group_id.is_not(None))
    elif trigger:
        if trigger not in TRIGGERS:
            raise BadRequestError(f"unknown trigger {trigger!r}; use {', '.join(TRIGGERS)}")
        query = query.where((runs.c.trigger == trigger) & runs.c.group_id.is_(None))
    if group:
        query = query.where(runs.c.group_id == group)
    return query


def _contains(column: sa.ColumnElement, text: str) -> sa.ColumnElement:
    """``column`` holds ``text``, any case; ``%`` and ``_`` are literal characters."""
    return sa.func.lower(column).contains(text.lower(), autoescape=True)


def run_item(record: Any) -> dict[str, Any]:
    """A run as the panel lists it: the run's record, ``type: "run"``, and ``trigger`` said
    as the table shows it (``map`` for a member of a run group)."""
    data = record.to_dict()
    data["type"] = "run"
    if data.get("group_id"):
        data["trigger"] = "map"
    return data


def runs_table(
    om: Omega,
    *,
    limit: int = 50,
    offset: int = 0,
    state: str | None = None,
    kind: str | None = None,
    target: str | None = None,
    action: str | None = None,
    trigger: str | None = None,
    group: str | None = None,
    search: str | None = None,
    sort: str = "submitted",
    descending: bool = True,
) -> dict[str, Any]:
    """One page of every run that passes the filters, sorted by ``sort``; ``total`` counts
    them all."""
    if sort not in SORTS:
        raise BadRequestError(f"cannot sort by {sort!r}; use one of {', '.join(SORTS)}")
    filters = {
        "states": _states(state),
        "kind": kind,
        "target": target,
        "action": action,
        "trigger": trigger,
        "group": group,
        "search": search,
    }
    key = _duration(om) if sort == "duration" else runs.c[sort]
    key = key.desc() if descending else key.asc()
    # Runs not started (no duration, no start) come last either way.
    query = _run_filters(sa.select(runs), om, **filters).order_by(
        key.nulls_last(), runs.c.submitted.desc(), runs.c.id
    )
    count = _run_filters(sa.select(sa.func.count()).select_from(runs), om, **filters)
    om.db.ensure_schema()
    with om.db.connect() as conn:
        rows = conn.execute(query.limit(limit).offset(offset)).fetchall()
        total = int(conn.execute(count).scalar() or 0)
    return {
        "items": [run_item(_record(r)) for r in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def group_item(om: Omega, group_id: str) -> dict[str, Any]:
    """A run group as one row: what it runs, its counts by state, and its failed members."""
    group = om.runtime.group(group_id)
    row = group.store.get(group_id)
    status = group.status()
    members = status.members
    failed = members[members.state == "failed"].head(FAILED_SHOWN)
    return {
        "type": "group",
        "id": group.id,
        "kind": group.kind,
        "target": group.target,
        "target_version": row.target_version,
        "trigger": "map",
        "submitted": row.created.isoformat() if row.created else None,
        "max_parallel": row.max_parallel,
        **status.to_dict(),
        "failed": [
            {
                "index": int(m.index),
                "run_id": m.run_id,
                "parameters": m.parameters,
                "error": m.error,
            }
            for m in failed.itertuples()
        ],
    }


def runs_collapsed(
    om: Omega,
    *,
    limit: int = 50,
    offset: int = 0,
    state: str | None = None,
    kind: str | None = None,
    search: str | None = None,
) -> dict[str, Any]:
    """One page, newest first, of the runs outside any group and of the run groups (one item
    each); with ``state``, the groups that have a member in that state; with ``search``, the
    runs and groups whose target holds that text (any case)."""
    states = _states(state)
    single = _run_filters(
        sa.select(runs.c.id, sa.literal("run").label("type"), runs.c.submitted.label("at")).where(
            runs.c.group_id.is_(None)
        ),
        om,
        states=states,
        kind=kind,
        target=None,
        action=None,
        trigger=None,
        group=None,
        search=search,
    )
    groups = sa.select(
        run_groups.c.id, sa.literal("group").label("type"), run_groups.c.created.label("at")
    ).where(run_groups.c.bucket == om.bucket)
    if kind:
        groups = groups.where(run_groups.c.kind == kind)
    if search:
        groups = groups.where(_contains(run_groups.c.target, search))
    if states:
        groups = groups.where(
            sa.exists().where((runs.c.group_id == run_groups.c.id) & runs.c.state.in_(states))
        )
    both = sa.union_all(single, groups).subquery()
    page = sa.select(both.c.id, both.c.type).order_by(both.c.at.desc(), both.c.id)
    om.db.ensure_schema()
    with om.db.connect() as conn:
        rows = conn.execute(page.limit(limit).offset(offset)).fetchall()
        total = int(conn.execute(sa.select(sa.func.count()).select_from(both)).scalar() or 0)
        ids = [i for i, t in rows if t == "run"]
        found = conn.execute(sa.select(runs).where(runs.c.id.in_(ids))).fetchall() if ids else []
    records = {r.id: _record(r) for r in found}
    items = []
    for item_id, item_type in rows:
        if item_type == "group":
            items.append(group_item(om, item_id))
        elif item_id in records:
            items.append(run_item(records[item_id]))
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def export_run(om: Omega, run_id: str, format: str = "html") -> str:
    """The executed notebook of run ``run_id`` rendered by nbconvert (``html`` by default)."""
    om.runtime.run_record(run_id)  # an unknown run (or another bucket's): 404
    return om.jobs.export(run_id, format)
