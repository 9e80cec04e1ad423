"""MLflow's tracking REST API (the part its Python client uses) on omega experiments.

The REST handlers (``server/mlflow_handlers.py``) parse the request and call one function of
:data:`ENDPOINTS`; everything MLflow means is mapped here, onto the same events
``om.runtime.experiment(name).data()`` shows:

- an MLflow **experiment** is an omega experiment of the bucket, by name. Its id is a hash of
  the name (16 hex digits; the Default experiment ``"0"`` is the experiment ``Default``), so no
  table maps ids: an id is resolved by hashing the bucket's experiment names (cached).
  Creating one writes an ``experiment`` event (outside any run) that holds its tags.
- an MLflow **run** is a run of that experiment; its id is ``<experiment id>-<run number>``.
  ``runs/create`` writes the ``start`` event (run name, MLflow user and start time in its
  data), ``runs/update`` with a terminal status the ``stop`` event (value: the duration).
- **params**, **tags** and **metrics** are ``param``, ``tag`` and ``metric`` events of the run:
  params and tags keep MLflow's text, a metric is a number with its step, and its time is the
  client's timestamp.

Every write is in the database when the call returns (one transaction per request), as an
MLflow server promises; unlike the Python API's batched logging, nothing waits in memory.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from omega_jupyter.exceptions import BadRequestError, ObjectNotFoundError, OmegaError
from omega_jupyter.experiments.experiment import Experiment
from omega_jupyter.experiments.recorder import insert_rows, recorder_for
from omega_jupyter.experiments.tables import events

DEFAULT_ID = "0"
DEFAULT_NAME = "Default"
MAX_BATCH = 1000  # metrics per log-batch (MLflow's own limit); params and tags 100 each
MAX_RESULTS = 50_000  # runs or metric points per page
MAX_VALUE_CHARS = 6000  # a param's or tag's text
TERMINAL = {"FINISHED": "succeeded", "FAILED": "failed", "KILLED": "killed"}
STATUSES = {"RUNNING", "SCHEDULED", *TERMINAL}


class AlreadyExistsError(OmegaError, ValueError):
    """An MLflow experiment of that name exists (MLflow: ``RESOURCE_ALREADY_EXISTS``)."""


# -- ids --------------------------------------------------------------------------------------
def experiment_id(name: str) -> str:
    """The MLflow id of the experiment ``name``."""
    if name == DEFAULT_NAME:
        return DEFAULT_ID
    return hashlib.blake2b(name.encode(), digest_size=8).hexdigest()


def run_id(name: str, run: int) -> str:
    return f"{experiment_id(name)}-{run}"


_names: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], str]] = weakref.WeakKeyDictionary()
_runs: weakref.WeakKeyDictionary[Any, set[tuple[str, str, int]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def experiment_name(om: Any, exp_id: Any) -> str:
    """The name of the experiment with MLflow id ``exp_id`` in ``om``'s bucket (404 if none)."""
    exp_id = _text(exp_id, "experiment_id")
    if exp_id == DEFAULT_ID:
        return DEFAULT_NAME
    with _lock:
        cache = _names.setdefault(om.db, {})
        name = cache.get((om.bucket, exp_id))
    if name is not None:
        return name
    known = {experiment_id(n): n for n in _experiment_names(om)}
    with _lock:
        cache.update({(om.bucket, i): n for i, n in known.items()})
    if exp_id not in known:
        raise ObjectNotFoundError(f"no experiment with id {exp_id!r} in bucket {om.bucket!r}")
    return known[exp_id]


def resolve_run(om: Any, rid: Any) -> tuple[str, int]:
    """(experiment name, run number) of the MLflow run id ``rid`` (404 unless it started)."""
    rid = _text(rid, "run_id")
    exp_id, _, number = rid.rpartition("-")
    if not exp_id or not number.isdigit() or len(number) > 9:
        raise ObjectNotFoundError(f"no run with id {rid!r}: run ids read <experiment id>-<run>")
    name, run = experiment_name(om, exp_id), int(number)
    with _lock:
        known = _runs.setdefault(om.db, set())
        if (om.bucket, name, run) in known:
            return name, run
    where = [*_where(om, name), events.c.run == run, events.c.event == "start"]
    with om.db.connect() as conn:
        if conn.execute(sa.select(events.c.id).where(*where).limit(1)).first() is None:
            raise ObjectNotFoundError(f"no run with id {rid!r} in bucket {om.bucket!r}")
    with _lock:
        known.add((om.bucket, name, run))
    return name, run


# -- experiments ------------------------------------------------------------------------------
def create_experiment(om: Any, body: dict) -> dict:
    name = _name(body.get("name"))
    if _exists(om, name):
        raise AlreadyExistsError(f"experiment {name!r} already exists in bucket {om.bucket!r}")
    tags = _tags(body.get("tags"))
    data = {"source": "mlflow", "tags": tags}
    if body.get("artifact_location"):
        data["artifact_location"] = _text(body["artifact_location"], "artifact_location")
    exp = Experiment(om, name)
    _write(om, [exp.event_row("experiment", "created", None, run=None, data=data)])
    return {"experiment_id": experiment_id(name)}


def get_experiment(om: Any, body: dict) -> dict:
    name = experiment_name(om, body.get("experiment_id"))
    return {"experiment": _experiment(om, name, require=True)}


def get_experiment_by_name(om: Any, body: dict) -> dict:
    name = _name(body.get("experiment_name"))
    return {"experiment": _experiment(om, name, require=True)}


def search_experiments(om: Any, body: dict) -> dict:
    """Every experiment of the bucket, by name (``filter``: none, or ``name = '…'`` /
    ``name LIKE '…'``)."""
    limit = _int(body.get("max_results"), "max_results", 1000, 1, MAX_RESULTS)
    offset = _int(body.get("page_token") or None, "page_token", 0, 0, 10**9)
    names = _experiment_names(om)
    if DEFAULT_NAME not in names:
        names.append(DEFAULT_NAME)
    text = body.get("filter") or ""
    if text:
        [clause] = parse_filter(text, kinds=("attributes",)) or [None]
        if clause is None or clause.key != "name":
            raise BadRequestError("experiments/search filters on the name only: name = '…'")
        names = [n for n in names if clause.matches(n)]
    names.sort()
    page = names[offset : offset + limit]
    out = {"experiments": [_experiment(om, n) for n in page]}
    if offset + limit < len(names):
        out["next_page_token"] = str(offset + limit)
    return out


def _experiment(om: Any, name: str, require: bool = False) -> dict:
    recorder_for(om.db).flush()  # what the Python API logged in this process counts too
    query = sa.select(sa.func.min(events.c.dt), sa.func.max(events.c.dt)).where(*_where(om, name))
    with om.db.connect() as conn:
        first, last = conn.execute(query).one()
        created = conn.execute(
            sa.select(events.c.data)
            .where(*_where(om, name), events.c.event == "experiment")
            .order_by(events.c.id.desc())
            .limit(1)
        ).scalar()
    if first is None and name != DEFAULT_NAME and require:
        raise ObjectNotFoundError(f"no experiment {name!r} in bucket {om.bucket!r}")
    created = created or {}
    now = _ms(datetime.now(UTC))
    exp_id = experiment_id(name)
    return {
        "experiment_id": exp_id,
        "name": name,
        "artifact_location": created.get("artifact_location") or f"mlflow-artifacts:/{exp_id}",
        "lifecycle_stage": "active",
        "creation_time": _ms(first) if first is not None else now,
        "last_update_time": _ms(last) if last is not None else now,
        "tags": _pairs(created.get("tags") or {}),
    }


# -- runs -------------------------------------------------------------------------------------
def create_run(om: Any, body: dict) -> dict:
    name = experiment_name(om, body.get("experiment_id", DEFAULT_ID))
    tags = _tags(body.get("tags"))
    run_name = body.get("run_name") or tags.get("mlflow.runName")
    start = _time(body.get("start_time"), "start_time")
    user = body.get("user_id") or tags.get("mlflow.user")
    exp = Experiment(om, name)
    number = exp.start(source="mlflow", start_time=_ms(start), mlflow_user=user)
    exp.run = None  # the run stays open in the database; this object is done with it
    run_name = _text(run_name, "run_name") if run_name else f"run-{number}"
    tags["mlflow.runName"] = run_name
    if user:
        tags.setdefault("mlflow.user", str(user))
    rows = [exp.event_row("tag", k, None, number, data=v, dt=start) for k, v in tags.items()]
    _write(om, rows)
    with _lock:
        _runs.setdefault(om.db, set()).add((om.bucket, name, number))
    return {"run": _runs_of(om, name, [number])[0]}


def update_run(om: Any, body: dict) -> dict:
    name, run = resolve_run(om, body.get("run_id") or body.get("run_uuid"))
    exp = Experiment(om, name)
    rows = []
    if body.get("run_name"):
        rows.append(
            exp.event_row("tag", "mlflow.runName", None, run, data=_text(body["run_name"], "name"))
        )
    status = body.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequestError(f"status must be one of {sorted(STATUSES)}, not {status!r}")
    if status in TERMINAL:
        end = _time(body.get("end_time"), "end_time")
        started = _start_time(om, name, run)
        duration = max(0.0, (end - started).total_seconds()) if started else None
        data = {"status": TERMINAL[status], "mlflow_status": status}
        rows.append(exp.event_row("stop", "duration", duration, run, data=data, dt=end))
    _write(om, rows)
    return {"run_info": _runs_of(om, name, [run])[0]["info"]}


def get_run(om: Any, body: dict) -> dict:
    name, run = resolve_run(om, body.get("run_id") or body.get("run_uuid"))
    return {"run": _runs_of(om, name, [run])[0]}


def log_metric(om: Any, body: dict) -> dict:
    name, run = resolve_run(om, body.get("run_id") or body.get("run_uuid"))
    _write(om, [_metric_row(Experiment(om, name), run, body)])
    return {}


def log_param(om: Any, body: dict) -> dict:
    name, run = resolve_run(om, body.get("run_id") or body.get("run_uuid"))
    _write(om, [_text_row(Experiment(om, name), "param", run, body)])
    return {}


def set_tag(om: Any, body: dict) -> dict:
    name, run = resolve_run(om, body.get("run_id") or body.get("run_uuid"))
    _write(om, [_text_row(Experiment(om, name), "tag", run, body)])
    return {}


def log_batch(om: Any, body: dict) -> dict:
    name, run = resolve_run(om, body.get("run_id"))
    exp = Experiment(om, name)
    parts = {}
    for what, limit in (("metrics", MAX_BATCH), ("params", 100), ("tags", 100)):
        items = body.get(what) or []
        if not isinstance(items, list) or len(items) > limit:
            raise BadRequestError(f"{what} must be a list of at most {limit} entries")
        if not all(isinstance(i, dict) for i in items):
            raise BadRequestError(f"each of {what} must be an object")
        parts[what] = items
    rows = [_metric_row(exp, run, m) for m in parts["metrics"]]
    rows += [_text_row(exp, "param", run, p) for p in parts["params"]]
    rows += [_text_row(exp, "tag", run, t) for t in parts["tags"]]
    _write(om, rows)
    return {}


def get_metric_history(om: Any, body: dict) -> dict:
    """Every value of one metric of a run, in the order logged (paged by ``max_results``)."""
    name, run = resolve_run(om, body.get("run_id") or body.get("run_uuid"))
    key = _text(body.get("metric_key"), "metric_key")
    limit = _int(body.get("max_results"), "max_results", None, 1, 10**9)
    offset = _int(body.get("page_token") or None, "page_token", 0, 0, 10**12)
    query = (
        sa.select(events.c.value, events.c.step, events.c.dt)
        .where(*_where(om, name), events.c.run == run)
        .where(events.c.event == "metric", events.c.key == key)
        .order_by(events.c.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    recorder_for(om.db).flush()
    with om.db.connect() as conn:
        rows = conn.execute(query).all()
    out: dict[str, Any] = {
        "metrics": [
            {"key": key, "value": _number(v), "timestamp": _ms(dt), "step": int(s or 0)}
            for v, s, dt in rows
        ]
    }
    if limit is not None and len(rows) == limit:
        out["next_page_token"] = str(offset + limit)
    return out


def search_runs(om: Any, body: dict) -> dict:
    """Runs of the experiments ``experiment_ids``, filtered (MLflow's filter grammar: clauses
    joined by AND on ``metrics.``, ``params.``, ``tags.`` and ``attributes.``), ordered
    (``order_by``; newest first by default) and paged."""
    ids = body.get("experiment_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list) or not ids:
        raise BadRequestError("experiment_ids must be a list of at least one experiment id")
    limit = _int(body.get("max_results"), "max_results", 1000, 1, MAX_RESULTS)
    offset = _int(body.get("page_token") or None, "page_token", 0, 0, 10**9)
    clauses = parse_filter(body.get("filter") or "")
    order = [_order(o) for o in (body.get("order_by") or [])]
    view = body.get("run_view_type") or "ACTIVE_ONLY"
    if view not in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        raise BadRequestError("run_view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL")
    runs: list[dict] = []
    if view != "DELETED_ONLY":  # runs are never deleted here
        for exp_id in dict.fromkeys(ids):
            runs += _runs_of(om, experiment_name(om, exp_id), None)
    runs = [r for r in runs if all(c.matches(_field(r, c.kind, c.key)) for c in clauses)]
    runs.sort(key=lambda r: (-r["info"]["start_time"], r["info"]["run_id"]))
    for kind, key, descending in reversed(order):
        present = [r for r in runs if _field(r, kind, key) is not None]
        missing = [r for r in runs if _field(r, kind, key) is None]
        present.sort(key=lambda r: _sortable(_field(r, kind, key)), reverse=descending)
        runs = present + missing
    out: dict[str, Any] = {"runs": runs[offset : offset + limit]}
    if offset + limit < len(runs):
        out["next_page_token"] = str(offset + limit)
    return out


def _runs_of(om: Any, name: str, numbers: list[int] | None) -> list[dict]:
    """MLflow run objects of the experiment ``name`` (every run when ``numbers`` is None)."""
    recorder_for(om.db).flush()
    where = [*_where(om, name), events.c.run.is_not(None)]
    if numbers is not None:
        where.append(events.c.run.in_(numbers))
    kinds = ("start", "stop", "param", "tag")
    described = (
        sa.select(
            events.c.run,
            events.c.event,
            events.c.key,
            events.c.value,
            events.c.data,
            events.c.dt,
            events.c.userid,
        )
        .where(*where, events.c.event.in_(kinds))
        .order_by(events.c.id)
    )
    last = (
        sa.select(sa.func.max(events.c.id))
        .where(*where, events.c.event == "metric")
        .group_by(events.c.run, events.c.key)
    )
    metrics = sa.select(
        events.c.run, events.c.key, events.c.value, events.c.step, events.c.dt
    ).where(events.c.id.in_(last))
    with om.db.connect() as conn:
        rows = conn.execute(described).all()
        latest = conn.execute(metrics).all()
    exp_id = experiment_id(name)
    runs: dict[int, dict] = {}
    for run, event, key, value, data, dt, userid in rows:
        if event == "start":
            data = data or {}
            start = data.get("start_time") or _ms(dt)
            runs[run] = {
                "info": {
                    "run_id": f"{exp_id}-{run}",
                    "run_uuid": f"{exp_id}-{run}",
                    "run_name": f"run-{run}",
                    "experiment_id": exp_id,
                    "user_id": data.get("mlflow_user") or userid or "",
                    "status": "RUNNING",
                    "start_time": start,
                    "artifact_uri": f"mlflow-artifacts:/{exp_id}/{exp_id}-{run}/artifacts",
                    "lifecycle_stage": "active",
                },
                "data": {"metrics": {}, "params": {}, "tags": {}},
            }
            continue
        entry = runs.get(run)
        if entry is None:
            continue
        if event == "stop":
            data = data or {}
            status = data.get("mlflow_status") or _mlflow_status(data.get("status"))
            entry["info"].update(status=status, end_time=_ms(dt))
        else:
            text = _as_text(value, data)
            entry["data"][f"{event}s"][key] = text
            if event == "tag" and key == "mlflow.runName":
                entry["info"]["run_name"] = text
    for run, key, value, step, dt in latest:
        if run in runs:
            metric = {"key": key, "value": _number(value), "timestamp": _ms(dt), "step": step or 0}
            runs[run]["data"]["metrics"][key] = metric
    out = []
    for number in sorted(runs):
        entry = runs[number]
        data = entry["data"]
        entry["data"] = {
            "metrics": list(data["metrics"].values()),
            "params": _pairs(data["params"]),
            "tags": _pairs(data["tags"]),
        }
        entry["inputs"] = {}
        out.append(entry)
    if numbers is not None and len(out) < len(numbers):
        raise ObjectNotFoundError(f"experiment {name!r} has no run {numbers}")
    return out


def _start_time(om: Any, name: str, run: int) -> datetime | None:
    query = sa.select(events.c.dt, events.c.data).where(
        *_where(om, name), events.c.run == run, events.c.event == "start"
    )
    with om.db.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    ms = (row[1] or {}).get("start_time")
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else _aware(row[0])


# -- search filters ---------------------------------------------------------------------------
KINDS = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "attributes",
    "attributes": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
ATTRIBUTES = ("run_id", "run_name", "status", "user_id", "start_time", "end_time", "name")
_CLAUSE = re.compile(
    r"""\s*(?P<kind>\w+)\.(?P<key>`[^`]+`|"[^"]+"|[\w.\-/]+)\s*
        (?P<op>!=|<=|>=|=|<|>|\bNOT\s+LIKE\b|\bILIKE\b|\bLIKE\b)\s*
        (?P<value>'(?:[^']|'')*'|"[^"]*"|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*
        (?:\bAND\b|$)""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    """One comparison of a search filter: ``kind.key op value``."""

    kind: str
    key: str
    op: str
    value: Any

    def matches(self, actual: Any) -> bool:
        if actual is None:
            return False
        op = self.op.upper()
        if op in ("LIKE", "ILIKE", "NOT LIKE"):
            pattern = "".join(
                ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(self.value)
            )
            flags = re.IGNORECASE if op == "ILIKE" else 0
            found = re.fullmatch(pattern, str(actual), flags | re.DOTALL) is not None
            return not found if op == "NOT LIKE" else found
        if isinstance(self.value, float):
            try:
                actual = float(actual)
            except (TypeError, ValueError):
                return False
        else:
            actual = str(actual)
        return {
            "=": actual == self.value,
            "!=": actual != self.value,
            "<": actual < self.value,
            "<=": actual <= self.value,
            ">": actual > self.value,
            ">=": actual >= self.value,
        }[op]


def parse_filter(text: str, kinds: tuple[str, ...] | None = None) -> list[Clause]:
    """The clauses of an MLflow filter string (``metrics.acc > 0.9 AND params.C = '1'``)."""
    if not isinstance(text, str):
        raise BadRequestError("filter must be a text")
    clauses, position, text = [], 0, text.strip()
    while position < len(text):
        match = _CLAUSE.match(text, position)
        if match is None:
            raise BadRequestError(
                f"cannot parse the filter at {text[position : position + 40]!r}: this server "
                "takes comparisons such as metrics.acc > 0.9, params.C = '1', tags.t LIKE 'a%'"
                " or attributes.status = 'FINISHED', joined by AND"
            )
        position = match.end()
        kind = KINDS.get(match["kind"].lower())
        if kind is None or (kinds is not None and kind not in kinds):
            raise BadRequestError(f"unknown filter entity {match['kind']!r}")
        key = match["key"].strip('`"')
        if kind == "attributes" and key not in ATTRIBUTES:
            raise BadRequestError(f"unknown attribute {key!r}; known: {', '.join(ATTRIBUTES)}")
        raw = match["value"]
        if raw[0] in "'\"":
            value: Any = raw[1:-1].replace("''", "'")
        elif kind in ("metrics",) or key in ("start_time", "end_time"):
            value = float(raw)
        else:
            raise BadRequestError(f"compare {kind}.{key} with a quoted text, not {raw}")
        if kind == "metrics" and isinstance(value, str):
            raise BadRequestError(f"compare metrics.{key} with a number, not {raw}")
        clauses.append(Clause(kind, key, " ".join(match["op"].split()), value))
    return clauses


def _field(run: dict, kind: str, key: str) -> Any:
    if kind == "attributes":
        key = "run_name" if key == "name" else key
        return run["info"].get(key)
    for item in run["data"][kind]:
        if item["key"] == key:
            return item["value"]
    return None


def _order(text: Any) -> tuple[str, str, bool]:
    if not isinstance(text, str):
        raise BadRequestError("order_by must be a list of texts")
    match = re.fullmatch(
        r"\s*(?:(\w+)\.)?(`[^`]+`|\"[^\"]+\"|[\w.\-/]+)\s*(ASC|DESC)?\s*", text, re.IGNORECASE
    )
    if match is None:
        raise BadRequestError(f"cannot parse order_by {text!r}: write e.g. 'metrics.acc DESC'")
    kind = KINDS.get((match[1] or "attributes").lower())
    key = match[2].strip('`"')
    if kind is None or (kind == "attributes" and key not in ATTRIBUTES):
        raise BadRequestError(f"cannot order by {text!r}")
    return kind, key, (match[3] or "ASC").upper() == "DESC"


def _sortable(value: Any) -> tuple[int, Any]:
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))


# -- rows and values --------------------------------------------------------------------------
def _metric_row(exp: Experiment, run: int, body: dict) -> dict:
    key = _key(body.get("key"))
    value = body.get("value")
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        value = float(value.replace("Infinity", "inf"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequestError(f"metric {key!r}: value must be a number, not {value!r}")
    step = _int(body.get("step"), "step", 0, -(2**31), 2**31 - 1)
    dt = _time(body.get("timestamp"), "timestamp")
    return exp.event_row("metric", key, float(value), run, step=step, dt=dt)


def _text_row(exp: Experiment, event: str, run: int, body: dict) -> dict:
    key = _key(body.get("key"))
    value = body.get("value")
    if value is None:
        raise BadRequestError(f"{event} {key!r}: a value is required")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_CHARS:
        raise BadRequestError(f"{event} {key!r}: values are at most {MAX_VALUE_CHARS} characters")
    return exp.event_row(event, key, None, run, data=text)


def _write(om: Any, rows: list[dict]) -> None:
    if not rows:
        return
    om.db.ensure_schema()
    with om.db.begin() as conn:
        insert_rows(conn, rows)


def _where(om: Any, name: str) -> list:
    return [events.c.bucket == om.bucket, events.c.experiment == name]


def _experiment_names(om: Any) -> list[str]:
    recorder_for(om.db).flush()
    om.db.ensure_schema()
    query = sa.select(events.c.experiment).where(events.c.bucket == om.bucket).distinct()
    with om.db.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def _exists(om: Any, name: str) -> bool:
    return Experiment(om, name).exists()


def _name(value: Any) -> str:
    from omega_jupyter.names import validate_name

    return validate_name(_text(value, "name"))


def _key(value: Any) -> str:
    key = _text(value, "key")
    if len(key) > 255:
        raise BadRequestError(f"keys are at most 255 characters, not {len(key)}")
    return key


def _text(value: Any, what: str) -> str:
    if value is None or value == "":
        raise BadRequestError(f"missing value for required parameter {what!r}")
    if not isinstance(value, str):
        raise BadRequestError(f"{what} must be a text, not {type(value).__name__}")
    return value


def _int(value: Any, what: str, default: Any, low: int, high: int) -> Any:
    if value is None or value == "":
        return default
    try:
        number = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise BadRequestError(f"{what} must be an integer from {low} to {high}, not {value!r}")
    return number


def _time(value: Any, what: str) -> datetime:
    """A time in milliseconds since the epoch (now when absent)."""
    if value is None or value == "":
        return datetime.now(UTC)
    ms = _int(value, what, None, 0, 253402300799999)  # up to the year 9999
    return datetime.fromtimestamp(ms / 1000, UTC)


def _tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise BadRequestError("tags must be a list of {key, value} objects")
    out = {}
    for tag in value:
        value_ = tag.get("value")
        out[_key(tag.get("key"))] = "" if value_ is None else str(value_)[:MAX_VALUE_CHARS]
    return out


def _pairs(mapping: dict) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def _as_text(value: Any, data: Any) -> str:
    if value is not None:
        return repr(float(value)) if not float(value).is_integer() else str(float(value))
    return data if isinstance(data, str) else "" if data is None else str(data)


def _number(value: Any) -> Any:
    if value is None:  # SQLite stores NaN as NULL
        return "NaN"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _ms(dt: datetime) -> int:
    return int(_aware(dt).timestamp() * 1000)


def _mlflow_status(status: str | None) -> str:
    return {"succeeded": "FINISHED", "failed": "FAILED", "running": "RUNNING"}.get(
        status or "", "KILLED"
    )


# (endpoint, HTTP verb) -> (function, writes): what ``server/mlflow_handlers.py`` serves under
# ``…/api/2.0/mlflow/``.
ENDPOINTS: dict[tuple[str, str], tuple[Callable[[Any, dict], dict], bool]] = {
    ("experiments/create", "POST"): (create_experiment, True),
    ("experiments/get", "GET"): (get_experiment, False),
    ("experiments/get-by-name", "GET"): (get_experiment_by_name, False),
    ("experiments/search", "POST"): (search_experiments, False),
    ("experiments/search", "GET"): (search_experiments, False),
    ("runs/create", "POST"): (create_run, True),
    ("runs/update", "POST"): (update_run, True),
    ("runs/get", "GET"): (get_run, False),
    ("runs/log-metric", "POST"): (log_metric, True),
    ("runs/log-parameter", "POST"): (log_param, True),
    ("runs/set-tag", "POST"): (set_tag, True),
    ("runs/log-batch", "POST"): (log_batch, True),
    ("runs/search", "POST"): (search_runs, False),
    ("metrics/get-history", "GET"): (get_metric_history, False),
}
