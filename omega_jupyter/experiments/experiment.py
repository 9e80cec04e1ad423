"""``om.runtime.experiment(name)``: runs of an experiment and the events they log.

Each ``with`` block is one run (numbered 1, 2, … per experiment; a ``start`` event opens it and
a ``stop`` event closes it with its status and duration). Logging is appending to a batch
(``recorder.py``); reading (``data``, ``runs``, ``summary``) first writes what this process
has pending, so a process always reads its own events.
"""

from __future__ import annotations

import math
import numbers
import platform
import socket
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from omega_jupyter.exceptions import (
    ExperimentRunError,
    InvalidParameterError,
    ObjectNotFoundError,
)
from omega_jupyter.experiments.recorder import recorder_for
from omega_jupyter.experiments.tables import EVENTS, events
from omega_jupyter.names import validate_name
from omega_jupyter.storage import audit

# The columns of ``Experiment.data()``, in order.
DATA_COLUMNS = [
    "experiment",
    "run",
    "step",
    "event",
    "key",
    "value",
    "dt",
    "node",
    "userid",
    "runtime_run",
    "model",
    "model_version",
    "dataset",
]
LINKS = ("runtime_run", "model", "model_version", "dataset")
_START_ATTEMPTS = 50
_NODE = socket.gethostname()


class Experiment:
    """One experiment of a bucket. ``links`` (``runtime_run``, ``model``, ``model_version``,
    ``dataset``) are recorded with every event this object logs."""

    def __init__(self, om: Any, name: str, **links: Any) -> None:
        unknown = set(links) - set(LINKS)
        if unknown:
            raise InvalidParameterError(f"unknown link(s) {sorted(unknown)}; known: {LINKS}")
        self.om = om
        self.name = validate_name(name)
        self.links = {k: v for k, v in links.items() if v is not None}
        self.run: int | None = None
        self._started: float | None = None

    @property
    def _recorder(self) -> Any:
        return recorder_for(self.om.db)

    # -- runs -----------------------------------------------------------------------------
    def __enter__(self) -> Experiment:
        self.start()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        error = f"{exc_type.__name__}: {exc}" if exc_type is not None else None
        self.stop("failed" if exc_type is not None else "succeeded", error=error)

    def start(self, **data: Any) -> int:
        """Open a new run (numbered after the last one of this experiment); returns its number.
        The ``start`` event is written at once: it is what numbers runs safely from several
        processes."""
        if self.run is not None:
            raise ExperimentRunError(
                f"run {self.run} of experiment {self.name!r} is still open: stop it first"
                " (each `with` block is one run)"
            )
        db = self.om.db
        db.ensure_schema()
        where = (events.c.bucket == self.om.bucket) & (events.c.experiment == self.name)
        for _ in range(_START_ATTEMPTS):
            try:
                with db.begin() as conn:
                    last = conn.execute(sa.select(sa.func.max(events.c.run)).where(where)).scalar()
                    number = int(last or 0) + 1
                    row = self._row("start", None, None, run=number, data=data or None)
                    conn.execute(events.insert(), [row])
            except sa.exc.IntegrityError:
                continue  # another process started this run first: take the next number
            self.run, self._started = number, time.monotonic()
            return number
        raise ExperimentRunError(f"could not number a new run of {self.name!r}: retry")

    def stop(self, status: str = "succeeded", error: str | None = None) -> None:
        """Close the open run: a ``stop`` event (value: duration in seconds; data: status and
        error), then every pending event is written."""
        run = self._require_run()
        duration = time.monotonic() - (self._started or time.monotonic())
        data = {"status": status, **({"error": error[:2000]} if error else {})}
        self._recorder.add(self._row("stop", "duration", duration, run=run, data=data))
        self.run = self._started = None
        self.flush()

    def flush(self) -> int:
        """Write this process's pending events of this database now."""
        return self._recorder.flush()

    # -- logging --------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self._log("param", key, value)

    def log_params(self, params: dict[str, Any]) -> None:
        self._log_dict("param", params)

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """A numeric measurement; ``step`` orders the values of one key within the run."""
        if not _is_number(value):
            raise InvalidParameterError(
                f"metric {key!r} must be a number, not {type(value).__name__} (use log_param"
                " or log_event for other values)"
            )
        self._log("metric", key, value, step=step)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        for key, value in _check_dict(metrics, "metrics").items():
            if not _is_number(value):
                raise InvalidParameterError(f"metric {key!r} must be a number")
        self._log_dict("metric", metrics, step=step)

    def log_event(self, event: str, key: str | None, value: Any, step: int | None = None) -> None:
        """Any event of :data:`~omega_jupyter.experiments.tables.EVENTS` (and others)."""
        if not isinstance(event, str) or not 0 < len(event) <= 32:
            raise InvalidParameterError("event must be a name of at most 32 characters")
        self._log(event, key, value, step=step)

    def log_artifact(self, obj: Any, name: str) -> dict[str, Any]:
        """Store ``obj`` through the normal stores (a model in ``om.models``, data in
        ``om.datasets``) as ``experiments/<experiment>/<run>/<name>`` and log a reference."""
        run = self._require_run()
        validate_name(name)
        stored = f"experiments/{self.name}/{run}/{name}"
        if _is_model(obj):
            meta = self.om.models.put(obj, stored)
            ref = {"store": "models", "name": meta.name, "version": meta.version}
            links = {"model": meta.name, "model_version": meta.version}
        else:
            meta = self.om.datasets.put(obj, stored)
            ref = {"store": "datasets", "name": meta.name, "version": meta.version}
            links = {"dataset": meta.name}
        self._recorder.add(self._row("artifact", name, None, run=run, data=ref, **links))
        return ref

    def log_system(self) -> None:
        """Host, platform, python and library versions; CPUs and memory (numbers)."""
        info: dict[str, Any] = {
            "host": _NODE,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": _cpu_count(),
        }
        try:
            import psutil  # optional: memory figures

            memory = psutil.virtual_memory()
            info.update(memory_total=memory.total, memory_available=memory.available)
            info["cpu_percent"] = psutil.cpu_percent(interval=None)
        except ImportError:
            pass
        from importlib.metadata import PackageNotFoundError, version

        for package in ("omega_jupyter", "numpy", "pandas", "scikit-learn", "dask"):
            try:
                info[f"version.{package}"] = version(package)
            except PackageNotFoundError:
                continue
        self._log_dict("system", info)

    def _log(self, event: str, key: str | None, value: Any, step: int | None = None) -> None:
        run = self._require_run()
        self._recorder.add(self._event(event, key, value, run, step))

    def _log_dict(self, event: str, values: dict[str, Any], step: int | None = None) -> None:
        run = self._require_run()
        rows = [self._event(event, k, v, run, step) for k, v in _check_dict(values, event).items()]
        self._recorder.add_many(rows)

    def _event(self, event: str, key: Any, value: Any, run: int | None, step: Any) -> dict:
        if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
            raise InvalidParameterError(f"key must be a text of 1-255 characters, not {key!r}")
        if step is not None and (isinstance(step, bool) or not isinstance(step, numbers.Integral)):
            raise InvalidParameterError(f"step must be an integer, not {step!r}")
        if _is_number(value):
            return self._row(event, key, float(value), run=run, step=step)
        return self._row(event, key, None, run=run, step=step, data=_jsonable(value))

    def event_row(
        self,
        event: str,
        key: str | None,
        value: float | None,
        run: int | None,
        step: int | None = None,
        data: Any = None,
        dt: datetime | None = None,
    ) -> dict:
        """One event row of ``run`` as stored, for a caller that writes rows itself (the MLflow
        API writes each request's rows at once, with the client's times)."""
        fields = {"dt": dt} if dt is not None else {}
        return self._row(event, key, value, run=run, step=step, data=data, **fields)

    def _row(self, event: str, key: Any, value: float | None, **fields: Any) -> dict:
        row = {
            "bucket": self.om.bucket,
            "experiment": self.name,
            "run": None,
            "step": None,
            "event": event,
            "key": key,
            "value": value,
            "data": None,
            "dt": datetime.now(UTC),
            "node": _NODE,
            "userid": audit.current_actor(),
            "runtime_run": None,
            "model": None,
            "model_version": None,
            "dataset": None,
        }
        if self.links:
            row.update(self.links)
        row.update(fields)
        if row["step"] is not None:
            row["step"] = int(row["step"])
        return row

    def _require_run(self) -> int:
        if self.run is None:
            raise ExperimentRunError(
                f"no run of experiment {self.name!r} is open: log inside"
                f" `with om.runtime.experiment({self.name!r}) as exp:` (or call exp.start())"
            )
        return self.run

    # -- reading --------------------------------------------------------------------------
    def data(
        self,
        event: str | list[str] | None = None,
        key: str | list[str] | None = None,
        run: int | str | list[int] | None = None,
        step: int | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """The events as a DataFrame (columns :data:`DATA_COLUMNS`; ``value`` is the number,
        or the JSON value when it is not one), oldest first. ``run``: None the latest run,
        ``'*'`` every run, a number, or a list of numbers; events outside runs (tracked
        predictions) are in ``'*'`` only."""
        frame = self._frame(event, key, run, step=step, since=since, limit=limit)
        if frame["number"].notna().all():
            frame["value"] = frame["number"].astype(float)
        else:
            values = [
                v if v is not None and not pd.isna(v) else d
                for v, d in zip(frame["number"], frame["data"], strict=True)
            ]
            frame["value"] = pd.Series(values, index=frame.index, dtype=object)
        return frame[DATA_COLUMNS]

    def _frame(self, event: Any, key: Any, run: Any, **more: Any) -> pd.DataFrame:
        """The stored rows with ``number`` (the value column) and ``data`` apart."""
        self.flush()
        self.om.db.ensure_schema()
        columns = [c for c in DATA_COLUMNS if c != "value"]
        query = sa.select(*(events.c[c] for c in columns), events.c.value, events.c.data)
        query = query.where(*self._where(event, key, run))
        if more.get("step") is not None:
            query = query.where(events.c.step == int(more["step"]))
        if more.get("since") is not None:
            query = query.where(events.c.dt >= more["since"])
        query = query.order_by(events.c.id)
        if more.get("limit") is not None:
            query = query.limit(int(more["limit"]))
        with self.om.db.connect() as conn:
            rows = [tuple(row) for row in conn.execute(query)]  # Row objects build frames slowly
        frame = pd.DataFrame(rows, columns=[*columns, "number", "data"])
        frame["dt"] = pd.to_datetime(frame["dt"], utc=True)
        return frame.astype({"run": "Int64", "step": "Int64", "model_version": "Int64"})

    def _where(self, event: Any, key: Any, run: Any) -> list[sa.ColumnElement[bool]]:
        where = [events.c.bucket == self.om.bucket, events.c.experiment == self.name]
        for column, wanted in ((events.c.event, event), (events.c.key, key)):
            if isinstance(wanted, str):
                where.append(column == wanted)
            elif wanted is not None:
                where.append(column.in_(list(wanted)))
        if run is None:
            run = self.last_run()
            if run is None:
                return [*where, sa.false()]
        if run == "*":
            return where
        if isinstance(run, bool):
            raise InvalidParameterError("run must be a number, a list of numbers or '*'")
        if isinstance(run, numbers.Integral):
            return [*where, events.c.run == int(run)]
        try:
            numbers_ = [int(r) for r in run]
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"run must be a number, a list of numbers or '*', not {run!r}"
            ) from None
        return [*where, events.c.run.in_(numbers_)]

    def exists(self) -> bool:
        """Whether this experiment has any event in the bucket."""
        self.flush()
        self.om.db.ensure_schema()
        with self.om.db.connect() as conn:
            return (
                conn.execute(
                    sa.select(events.c.id)
                    .where(events.c.bucket == self.om.bucket, events.c.experiment == self.name)
                    .limit(1)
                ).first()
                is not None
            )

    def require(self) -> Experiment:
        """This experiment, or ObjectNotFoundError when it has no event."""
        if not self.exists():
            raise ObjectNotFoundError(f"no experiment {self.name!r} in bucket {self.om.bucket!r}")
        return self

    def last_run(self) -> int | None:
        """The number of the latest run (None before the first)."""
        with self.om.db.connect() as conn:
            return conn.execute(
                sa.select(sa.func.max(events.c.run)).where(
                    events.c.bucket == self.om.bucket, events.c.experiment == self.name
                )
            ).scalar()

    def runs(self) -> pd.DataFrame:
        """One row per run: ``run``, ``started``, ``stopped``, ``status`` (``running`` while
        open), ``duration`` (seconds), ``node``, ``userid``, the links, then ``param.<key>``
        and the last value of each ``metric.<key>``."""
        df = self._frame(["start", "stop", "param", "metric"], None, "*")
        df = df[df["run"].notna()].astype({"run": int})
        columns = ["run", "started", "stopped", "status", "duration", "node", "userid", *LINKS]
        if df.empty:
            return pd.DataFrame(columns=columns)
        starts = df[df["event"] == "start"].drop_duplicates("run").set_index("run")
        stops = df[df["event"] == "stop"].drop_duplicates("run", keep="last").set_index("run")
        out = pd.DataFrame(index=starts.index)
        out["started"] = starts["dt"]
        out["stopped"] = stops["dt"].reindex(out.index)
        out["status"] = [
            (stops.loc[r, "data"] or {}).get("status", "stopped") if r in stops.index else "running"
            for r in out.index
        ]
        out["duration"] = stops["number"].reindex(out.index).astype(float)
        for column in ("node", "userid"):
            out[column] = starts[column]
        for column in LINKS:  # a link known only later in the run (a fit's new version)
            out[column] = df.groupby("run")[column].last().reindex(out.index)
        for event in ("param", "metric"):
            part = df[df["event"] == event].drop_duplicates(["run", "key"], keep="last")
            if part.empty:
                continue
            part = part.assign(
                value=[
                    n if n is not None and not pd.isna(n) else d
                    for n, d in zip(part["number"], part["data"], strict=True)
                ]
            )
            wide = part.pivot(index="run", columns="key", values="value")
            wide.columns = [f"{event}.{k}" for k in wide.columns]
            out = out.join(wide)
        return out.rename_axis("run").reset_index()

    def summary(self, run: Any = "*") -> pd.DataFrame:
        """count, mean, std, min, quartiles and max of the numeric values per event and key."""
        self.flush()
        where = [*self._where(None, None, run), events.c.value.is_not(None)]
        query = sa.select(events.c.event, events.c.key, events.c.value).where(*where)
        with self.om.db.connect() as conn:
            rows = [tuple(row) for row in conn.execute(query)]
        frame = pd.DataFrame(rows, columns=["event", "key", "value"])
        if frame.empty:
            return pd.DataFrame(columns=["count", "mean", "std", "min", "25%", "50%", "75%", "max"])
        return frame.groupby(["event", "key"])["value"].describe()

    def compare(self, a: int, b: int) -> pd.DataFrame:
        """Params and last metrics of runs ``a`` and ``b`` side by side (``diff``: b - a for
        numbers, ``same`` whether they are equal)."""
        runs = self.runs().set_index("run")
        missing = [r for r in (a, b) if r not in runs.index]
        if missing:
            raise ObjectNotFoundError(f"experiment {self.name!r} has no run {missing[0]}")
        keys = [c for c in runs.columns if c.startswith(("param.", "metric."))] + ["duration"]
        table = pd.DataFrame({a: runs.loc[a, keys], b: runs.loc[b, keys]}, index=keys)
        table["same"] = [_same(x, y) for x, y in zip(table[a], table[b], strict=True)]
        table["diff"] = [
            float(y) - float(x) if _is_number(x) and _is_number(y) else None
            for x, y in zip(table[a], table[b], strict=True)
        ]
        return table

    def chart(self, metric: str, run: Any = "*") -> dict[str, Any]:
        """A Vega-Lite spec of ``metric``: over steps, a line per run; one value per run: a
        bar per run."""
        df = self.data(event="metric", key=metric, run=run)
        if df.empty:
            raise ObjectNotFoundError(f"experiment {self.name!r} has no metric {metric!r}")
        per_run = df.groupby("run").size().max() == 1
        df = df.assign(step=df["step"].where(df["step"].notna(), df.groupby("run").cumcount()))
        values = [
            {"run": int(r), "step": int(s), "value": float(v), "dt": d.isoformat()}
            for r, s, v, d in zip(df["run"], df["step"], df["value"], df["dt"], strict=True)
        ]
        spec: dict[str, Any] = {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": f"{self.name}: {metric}",
            "data": {"values": values},
        }
        if per_run:
            spec["mark"] = "bar"
            spec["encoding"] = {
                "x": {"field": "run", "type": "ordinal"},
                "y": {"field": "value", "type": "quantitative", "title": metric},
            }
        else:
            spec["mark"] = {"type": "line", "point": True}
            spec["encoding"] = {
                "x": {"field": "step", "type": "quantitative"},
                "y": {"field": "value", "type": "quantitative", "title": metric},
                "color": {"field": "run", "type": "nominal"},
            }
        return spec

    def plot(self, metric: str, run: Any = "*") -> Any:
        """Chart ``metric`` across runs or steps: a matplotlib Axes when matplotlib is
        installed, else the Vega-Lite spec of :meth:`chart` (JupyterLab renders it)."""
        spec = self.chart(metric, run)
        try:
            import matplotlib.pyplot as plt  # optional
        except ImportError:
            return VegaLite(spec)
        frame = pd.DataFrame(spec["data"]["values"])
        _fig, ax = plt.subplots()
        if spec["mark"] == "bar":
            ax.bar(frame["run"].astype(str), frame["value"])
            ax.set_xlabel("run")
        else:
            for number, part in frame.groupby("run"):
                ax.plot(part["step"], part["value"], marker="o", label=f"run {number}")
            ax.set_xlabel("step")
            ax.legend()
        ax.set_ylabel(metric)
        ax.set_title(spec["title"])
        return ax

    def drop(self) -> int:
        """Delete every event of this experiment (its stored artifacts stay); returns how many."""
        self.flush()
        with self.om.db.begin() as conn:
            return conn.execute(sa.delete(events).where(*self._where(None, None, "*"))).rowcount

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, bucket={self.om.bucket!r})"


class VegaLite(dict):
    """A Vega-Lite spec that Jupyter displays as a chart (``application/vnd.vegalite.v5+json``)."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "application/vnd.vegalite.v5+json": dict(self),
            "text/plain": f"<Vega-Lite chart: {self.get('title', '')}>",
        }


def list_experiments(om: Any) -> pd.DataFrame:
    """The experiments of ``om``'s bucket: ``name``, ``runs``, ``events``, ``last`` event time."""
    recorder_for(om.db).flush()
    om.db.ensure_schema()
    query = (
        sa.select(
            events.c.experiment,
            sa.func.max(events.c.run),
            sa.func.count(),
            sa.func.max(events.c.dt),
        )
        .where(events.c.bucket == om.bucket)
        .group_by(events.c.experiment)
        .order_by(events.c.experiment)
    )
    with om.db.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["name", "runs", "events", "last"])
    frame["runs"] = frame["runs"].fillna(0).astype(int)
    frame["last"] = pd.to_datetime(frame["last"], utc=True)
    return frame


def parse_run(text: str | None) -> int | str | list[int] | None:
    """A run selection as the surfaces write it: none (the latest run), ``*`` (every run),
    ``3`` or ``1,2``."""
    if text is None or text == "":
        return None
    if text.strip() == "*":
        return "*"
    try:
        numbers_ = [int(part) for part in text.split(",")]
    except ValueError:
        raise InvalidParameterError(
            f"run must be a number, numbers separated by commas or '*', not {text!r}"
        ) from None
    return numbers_[0] if len(numbers_) == 1 else numbers_


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame of this module as JSON-ready records (times in ISO 8601, missing as null)."""
    default = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    rows = (frame if default else frame.reset_index()).to_dict("records")
    return [{str(k): _plain_value(v) for k, v in row.items()} for row in rows]


def _plain_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict | list):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


# -- values ----------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real | np.number) and not isinstance(value, bool | np.bool_)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _same(x: Any, y: Any) -> bool:
    if _is_number(x) and _is_number(y):
        return float(x) == float(y) or (math.isnan(float(x)) and math.isnan(float(y)))
    return bool(x == y) if not (isinstance(x, float) or isinstance(y, float)) else False


def _check_dict(values: Any, what: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise InvalidParameterError(f"{what} must be a dict of key: value")
    return values


def _jsonable(value: Any) -> Any:
    """``value`` as JSON data: numpy values as Python, anything else as its text."""
    import json

    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        return str(obj)

    return json.loads(json.dumps(value, default=default, allow_nan=True))


def _is_model(obj: Any) -> bool:
    return callable(getattr(obj, "fit", None)) and not isinstance(obj, pd.DataFrame | pd.Series)


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


__all__ = [
    "DATA_COLUMNS",
    "EVENTS",
    "Experiment",
    "VegaLite",
    "list_experiments",
    "parse_run",
    "to_records",
]
