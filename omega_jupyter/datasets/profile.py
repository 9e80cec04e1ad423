"""A dataset's profile: per column its dtype, counts, range, moments, top values and a
histogram over every row of the version, and its distinct count (exact or estimated).

Where the figures come from:

- **written statistics**: ``put`` of a DataFrame or Series computes, from the frame it already
  holds, every column's count, min/max/mean/std, histogram (``DEFAULT_BINS`` bins) and, for
  text, category and bool columns, the full value counts (so their distinct count and top
  values are exact), and keeps them in the version's metadata (``kind_meta["stats"]``). A
  profile with the default bins and at most ``DEFAULT_TOP`` top values reads them instead of
  scanning the table. ``append`` (which changes the version's rows) drops them, and versions
  written by ``read_csv`` never have them: those are profiled in the database.
- **database aggregates** (``exact=True``, other ``bins``/``top``, or no written statistics):
  aggregate SQL as described below.
- **distinct counts** of numeric, datetime and timedelta columns (and of every column on the
  database path) are *estimated* unless ``exact=True``: an exact ``count(DISTINCT …)`` sorts the
  whole column, most of a profile's time. The estimate groups a deterministic sample of about
  ``SAMPLE_ROWS`` rows (chosen by a hash of the row number) and scales it up: the larger of
  the Duj1 estimator of Haas and Stokes (the one PostgreSQL's ``ANALYZE`` uses),
  ``D = n*d / (n - f1 + f1*n/N)``, and the ``D`` for which ``n`` values drawn at random from
  ``D`` equally likely ones show ``d`` distinct on average (``D*(1 - exp(-n/D)) = d``), with
  ``n`` sampled and ``N`` total non-null values, ``d`` distinct and ``f1`` once-seen values in
  the sample. It is exact when the sample is the whole column (versions of at most
  ``SAMPLE_ROWS`` rows); an all-distinct column comes out exact and a column of few values
  whose every value is sampled too. On data drawn at random it is within a few percent (the
  tests allow 15%); it can read up to ~25% high on perfectly balanced values (each exactly
  as often) with a large sample share, and low by far more on skewed data (many values seen
  once or twice among a few frequent ones). Such counts are flagged ``distinct_approx`` (the
  table shows them as ``≈N``).

Everything is aggregate SQL over the version's table, built with SQLAlchemy from the stored
column specs (physical column names, bound parameters: no user text is ever spliced into the
SQL), and runs on the store's connection, so a bucket's credential reads only its own data:

- one pass for the counts, (exact) distinct counts, min/max/mean/std of every column;
- per numeric column one ``GROUP BY`` of its equal-width bin (PostgreSQL ``width_bucket``,
  SQLite integer arithmetic), ``bins`` bins between the column's min and max;
- per text, category and bool column one ``GROUP BY`` of its values, the ``top`` most frequent.

:class:`DatasetProfile` is plain data (``to_dict()`` is JSON-ready, ``to_frame()`` a
``describe``-like DataFrame) and builds a Vega-Lite chart per column (:meth:`vega_lite`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.datasets.backends import select_columns
from omega_jupyter.datasets.lazy.aggregates import aggregate, register_sqlite_aggregates
from omega_jupyter.datasets.lazy.expressions import family
from omega_jupyter.datasets.lazy.plan import (
    Column,
    IndexLayout,
    OrderKey,
    Plan,
    source_plan,
    spec_for,
)
from omega_jupyter.exceptions import UnsupportedObjectError

if TYPE_CHECKING:
    from omega_jupyter.datasets.store import DatasetStore

DEFAULT_BINS = 20
DEFAULT_TOP = 10
MAX_BINS = 200
MAX_TOP = 100
READ_RETRIES = 10
SAMPLE_ROWS = 50_000  # rows grouped for a distinct estimate (more: an exact count)
_SAMPLE_MOD = 65_521  # the sample: rows whose (row * _SAMPLE_MUL) % _SAMPLE_MOD is small
_SAMPLE_MUL = 40_503
STATS_MAX_COLUMNS = 500  # wider frames are profiled in the database only
WORK_MEM = "128MB"  # per sort of a distinct count, for this transaction only (PostgreSQL)
VEGA_LITE_MIME = "application/vnd.vegalite.v5+json"
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
# column kinds of a profile (from the storage family of the column)
_KINDS = {
    "number": "numeric",
    "bool": "boolean",
    "text": "text",
    "category": "category",
    "datetime": "datetime",
    "timedelta": "timedelta",
    "object": "object",
}
SUMMARY_COLUMNS = [
    "column",
    "dtype",
    "count",
    "nulls",
    "distinct",
    "mean",
    "std",
    "min",
    "max",
    "top",
]
_STATS = ["dtype", "kind", "count", "nulls", "distinct", "mean", "std", "min", "max", "top", "freq"]


@dataclass
class ColumnProfile:
    """One column. ``count`` counts non-null values; ``nulls`` the missing ones (NaN too).

    ``min``/``max`` are set for numeric, datetime and timedelta columns (datetimes as ISO
    text), ``mean``/``std`` for numeric ones (``mean`` of a bool column is the share of
    True). ``top`` lists ``{"value", "count"}`` of the most frequent values of text, category
    and bool columns; ``histogram`` lists ``{"start", "end", "count"}`` bins of numeric ones
    (empty when the column has no finite values).
    """

    name: Any
    dtype: str
    kind: str
    count: int
    nulls: int
    distinct: int
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    top: list[dict] = field(default_factory=list)
    histogram: list[dict] = field(default_factory=list)
    distinct_approx: bool = False  # ``distinct`` is an estimate (see the module docstring)

    def to_dict(self) -> dict:
        """JSON-ready (infinite numbers become None)."""
        out = {k: _finite(v) for k, v in asdict(self).items()}
        out["name"] = _json_label(self.name)
        for part in ("top", "histogram"):
            out[part] = [{k: _finite(v) for k, v in item.items()} for item in out[part]]
        return out

    def vega_lite(self, width: int = 220, height: int = 110) -> dict | None:
        """A Vega-Lite v5 spec: a histogram (numeric) or a bar chart of the top values;
        None when there is nothing to draw."""
        title = str(self.name)
        base = {
            "$schema": VEGA_LITE_SCHEMA,
            "width": width,
            "height": height,
            "title": {"text": title, "fontSize": 11},
            "config": {"view": {"stroke": None}, "axis": {"labelFontSize": 9, "titleFontSize": 9}},
        }
        if self.histogram:
            return {
                **base,
                "description": f"Histogram of {title}",
                "data": {"values": self.histogram},
                "mark": {"type": "bar"},
                "encoding": {
                    "x": {
                        "field": "start",
                        "type": "quantitative",
                        "bin": {"binned": True},
                        # the column name is the chart's title: an axis title also goes
                        # into Vega expressions (aria, tooltips), where a quote breaks them
                        "title": None,
                    },
                    "x2": {"field": "end"},
                    "y": {"field": "count", "type": "quantitative", "title": "rows"},
                    "tooltip": [
                        {"field": "start", "type": "quantitative", "title": "from"},
                        {"field": "end", "type": "quantitative", "title": "to"},
                        {"field": "count", "type": "quantitative", "title": "rows"},
                    ],
                },
            }
        if self.top:
            values = [{"value": str(t["value"]), "count": t["count"]} for t in self.top]
            return {
                **base,
                "description": f"Most frequent values of {title}",
                "data": {"values": values},
                "mark": {"type": "bar"},
                "encoding": {
                    "y": {"field": "value", "type": "nominal", "sort": "-x", "title": None},
                    "x": {"field": "count", "type": "quantitative", "title": "rows"},
                    "tooltip": [
                        {"field": "value", "type": "nominal", "title": "value"},
                        {"field": "count", "type": "quantitative", "title": "rows"},
                    ],
                },
            }
        return None


@dataclass
class DatasetProfile:
    """The profile of one dataset version: ``rows`` and one :class:`ColumnProfile` each."""

    name: str
    version: int
    rows: int
    columns: list[ColumnProfile]
    bins: int = DEFAULT_BINS
    top: int = DEFAULT_TOP
    exact: bool = False  # every figure exact (no estimated distinct count)
    source: str = "database"  # "written": statistics kept at put; "database": aggregate SQL

    def __getitem__(self, label: Any) -> ColumnProfile:
        for col in self.columns:
            if col.name == label:
                return col
        for col in self.columns:
            if str(col.name) == str(label):
                return col
        raise KeyError(label)

    def to_dict(self) -> dict:
        """JSON-ready: numbers, strings, None, lists and dicts only."""
        return {
            "name": self.name,
            "version": self.version,
            "rows": self.rows,
            "bins": self.bins,
            "top": self.top,
            "exact": self.exact,
            "source": self.source,
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_frame(self) -> pd.DataFrame:
        """One column per dataset column, one row per statistic (like ``describe``); ``top``
        and ``freq`` are the most frequent value and its count."""
        data = {}
        for col in self.columns:
            first = col.top[0] if col.top else {}
            data[col.name] = [
                col.dtype,
                col.kind,
                col.count,
                col.nulls,
                col.distinct,
                col.mean,
                col.std,
                col.min,
                col.max,
                first.get("value"),
                first.get("count"),
            ]
        frame = pd.DataFrame(data, index=_STATS, dtype=object)
        if not self.columns:
            frame = pd.DataFrame(index=_STATS)
        return frame

    def summary_rows(self) -> list[dict[str, str]]:
        """One row of display text per column (the table of the CLI, magic and panel):
        column, dtype, count, nulls, distinct, mean, std, min, max, top."""
        rows = []
        for col in self.columns:
            top = ", ".join(f"{t['value']} ({t['count']})" for t in col.top[:3])
            rows.append(
                {
                    "column": str(col.name),
                    "dtype": col.dtype,
                    "count": str(col.count),
                    "nulls": str(col.nulls),
                    "distinct": ("≈" if col.distinct_approx else "") + str(col.distinct),
                    "mean": _text(col.mean),
                    "std": _text(col.std),
                    "min": _text(col.min),
                    "max": _text(col.max),
                    "top": top,
                }
            )
        return rows

    def vega_lite(self, column: Any) -> dict | None:
        """The chart of ``column`` (see :meth:`ColumnProfile.vega_lite`)."""
        return self[column].vega_lite()

    def vega_lite_all(self, per_row: int = 3) -> dict | None:
        """Every column's chart in one Vega-Lite spec (``concat``, ``per_row`` wide)."""
        charts = []
        for col in self.columns:
            spec = col.vega_lite()
            if spec is not None:
                charts.append({k: v for k, v in spec.items() if k not in ("$schema", "config")})
        if not charts:
            return None
        return {
            "$schema": VEGA_LITE_SCHEMA,
            "description": f"Profile of {self.name} (version {self.version}, {self.rows} rows)",
            "columns": per_row,
            "concat": charts,
            "config": {"view": {"stroke": None}, "axis": {"labelFontSize": 9, "titleFontSize": 9}},
        }

    def __repr__(self) -> str:
        head = f"Profile of {self.name!r} (version {self.version}, {self.rows} rows)"
        if not self.columns:
            return head + ": no columns"
        return head + "\n" + self.to_frame().to_string()


def profile_dataset(
    store: DatasetStore,
    name: str,
    version: int | None = None,
    bins: int = DEFAULT_BINS,
    top: int = DEFAULT_TOP,
    exact: bool = False,
) -> DatasetProfile:
    """Profile a stored DataFrame or Series (see the module docstring)."""
    bins = _bounded("bins", bins, MAX_BINS)
    top = _bounded("top", top, MAX_TOP)
    ref = store.reference(name, version)
    register_sqlite_aggregates(store.db.engine)
    for attempt in range(READ_RETRIES):
        meta = store.meta.resolve(ref)
        if meta.kind not in ("pandas.dataframe", "pandas.series"):
            raise UnsupportedObjectError(
                f"dataset {ref.name!r} is a {meta.kind}; only DataFrames and Series have a profile"
            )
        try:
            return _profile(store, meta, ref, bins, top, bool(exact))
        except Exception:
            # a concurrent put or drop removed the version meanwhile: profile the current one
            if attempt + 1 < READ_RETRIES and store._gone(meta):
                continue
            raise
    raise AssertionError("unreachable")


def _profile(
    store: DatasetStore, meta: Any, ref: Any, bins: int, top: int, exact: bool
) -> DatasetProfile:
    plan = source_plan(store, meta, select_columns(meta.kind_meta["columns"], ref, None))
    if meta.kind == "pandas.series":
        label = meta.kind_meta.get("series_name")
        col = plan.columns[0]
        plan = plan.with_columns([Column(ref.name if label is None else label, col.spec, col.expr)])
    stats = meta.kind_meta.get("stats")
    written = (
        not exact
        and isinstance(stats, dict)
        and stats.get("bins") == bins
        and int(stats.get("top", 0)) >= top
        and len(stats.get("columns", [])) == len(plan.columns)
    )
    with _snapshot(store, meta, exact) as conn:
        if written:
            rows = int(meta.kind_meta["rows"])
            columns = [
                _written_column(col, entry, rows, top)
                for col, entry in zip(plan.columns, stats["columns"], strict=True)
            ]
        else:
            rows, columns = _summaries(conn, plan, exact)
        if not exact:
            _estimate_distinct(conn, plan, rows, columns)
        if not written:
            for col, prof in zip(plan.columns, columns, strict=True):
                if prof.kind == "numeric" and prof.count:
                    prof.histogram = _histogram(conn, plan, col, prof, bins)
                elif (
                    prof.kind in ("text", "category", "boolean") and 0 < prof.distinct < prof.count
                ):
                    # (all values distinct: no value stands out, nothing to rank)
                    prof.top = _top_values(conn, plan, col, top)
    all_exact = not any(c.distinct_approx for c in columns)
    source = "written" if written else "database"
    return DatasetProfile(meta.name, meta.version, rows, columns, bins, top, all_exact, source)


def _written_column(col: Column, entry: dict, rows: int, top: int) -> ColumnProfile:
    count = int(entry["count"])
    return ColumnProfile(
        name=col.label,
        dtype=str(col.spec["dtype"]),
        kind=_KINDS[family(col.spec)],
        count=count,
        nulls=rows - count,
        distinct=int(entry.get("distinct", -1)),  # -1: estimated next
        min=_loaded(entry.get("min")),
        max=_loaded(entry.get("max")),
        mean=_loaded(entry.get("mean")),
        std=_loaded(entry.get("std")),
        top=[dict(t) for t in entry.get("top", [])[:top]],
        histogram=[dict(h) for h in entry.get("histogram", [])],
        distinct_approx=bool(entry.get("distinct_approx")) or "distinct" not in entry,
    )


@contextmanager
def _snapshot(store: DatasetStore, meta: Any, exact: bool) -> Iterator[Connection]:
    """One read-only transaction for every query of a profile: on PostgreSQL one snapshot
    (rows appended meanwhile are not half counted), the version's table locked against a
    concurrent drop (failing at once if one is queued) and enough memory for the sorts of the
    distinct counts."""
    with store.db.connect() as conn, conn.begin():
        if store.db.is_postgres:
            conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            if exact:
                conn.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            table = store.bulk.qualified(meta.location or "")
            conn.execute(sa.text(f"LOCK TABLE {table} IN ACCESS SHARE MODE NOWAIT"))
        yield conn


def _bounded(what: str, value: Any, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= value <= most:
        raise ValueError(f"{what} must be a whole number from 1 to {most}, not {value!r}")
    return int(value)


def _bytewise(expr: Any, col: Column, native: bool) -> Any:
    """Text compared byte by byte on PostgreSQL: the same distinct values, much faster to sort
    than by the locale's rules."""
    return expr.collate("C") if native and col.spec["sql"] == "text" else expr


def _number(col: Column) -> Any:
    """A numeric column as double precision; uint64 is stored as its bit pattern in a signed
    64-bit integer, so values of 2**63 and above come back negative and are shifted up."""
    number = sa.cast(col.expr, sa.Double)
    if col.spec["dtype"] in ("uint64", "UInt64"):
        return sa.case((col.expr < 0, number + 2.0**64), else_=number)
    return number


def _std(col: Column, number: Any, native: bool) -> Any:
    if col.spec["dtype"] in ("uint64", "UInt64"):
        return sa.func.stddev_samp(number) if native else sa.func.om_std(number)
    return aggregate(col, "std", native).expr


# -- the one pass over all columns --------------------------------------------------------
def _summaries(conn: Connection, plan: Plan, exact: bool) -> tuple[int, list[ColumnProfile]]:
    native = plan.is_postgres
    int_spec = spec_for("int64", native)
    float_spec = spec_for("float64", native)
    outputs: list[tuple[str, dict, Any]] = [("rows", int_spec, sa.func.count())]
    for i, col in enumerate(plan.columns):
        fam = family(col.spec)
        outputs.append((f"count{i}", int_spec, sa.func.count(col.expr)))
        if exact:
            distinct = sa.func.count(sa.distinct(_bytewise(col.expr, col, native)))
            outputs.append((f"distinct{i}", int_spec, distinct))
        if fam == "number":
            number = _number(col)
            outputs += [
                (f"min{i}", float_spec, sa.func.min(number)),
                (f"max{i}", float_spec, sa.func.max(number)),
                (f"mean{i}", float_spec, sa.func.avg(number)),
                (f"std{i}", float_spec, _std(col, number, native)),
            ]
        elif fam == "bool":
            share = sa.func.avg(sa.cast(sa.cast(col.expr, sa.Integer), sa.Double))
            outputs.append((f"mean{i}", float_spec, share))
        elif fam in ("datetime", "timedelta"):
            outputs += [
                (f"min{i}", col.spec, sa.func.min(col.expr)),
                (f"max{i}", col.spec, sa.func.max(col.expr)),
            ]
    query = sa.select(*(expr.label(f"v{i}") for i, (_, _, expr) in enumerate(outputs)))
    sub = query.select_from(plan.base).where(*plan.where).subquery()
    result = _fetch(
        conn,
        Plan(
            store=plan.store,
            base=sub,
            columns=tuple(
                Column(key, spec, sub.c[f"v{i}"]) for i, (key, spec, _) in enumerate(outputs)
            ),
            index=IndexLayout("fresh"),
            row=None,
        ),
    )
    row = {key: result.iloc[0, i] for i, (key, _, _) in enumerate(outputs)}
    profiles = []
    for i, col in enumerate(plan.columns):
        count = int(row[f"count{i}"])
        profiles.append(
            ColumnProfile(
                name=col.label,
                dtype=str(col.spec["dtype"]),
                kind=_KINDS[family(col.spec)],
                count=count,
                nulls=int(row["rows"]) - count,
                distinct=int(row[f"distinct{i}"]) if exact else -1,  # -1: estimated next
                distinct_approx=not exact,
                min=_plain(row.get(f"min{i}")),
                max=_plain(row.get(f"max{i}")),
                mean=_plain(row.get(f"mean{i}")),
                std=_plain(row.get(f"std{i}")),
            )
        )
    return int(row["rows"]), profiles


def _estimate_distinct(
    conn: Connection, plan: Plan, rows: int, columns: list[ColumnProfile]
) -> None:
    """Fill in the distinct counts not known yet (``distinct_approx``): exact when the version
    has at most ``SAMPLE_ROWS`` rows, else estimated from a sample (see the module docstring)."""
    pending = [
        (col, prof) for col, prof in zip(plan.columns, columns, strict=True) if prof.distinct < 0
    ]
    if not pending:
        return
    native = plan.is_postgres
    exact: list[tuple[Column, ColumnProfile]] = []
    if rows <= SAMPLE_ROWS or plan.row is None:
        exact = pending
    else:
        take = max(1, math.ceil(_SAMPLE_MOD * SAMPLE_ROWS / rows))
        picked = (plan.row * _SAMPLE_MUL) % _SAMPLE_MOD < take
        sample = (
            sa.select(*(col.expr.label(f"c{i}") for i, (col, _) in enumerate(pending)))
            .select_from(plan.base)
            .where(*plan.where, picked)
            .cte("om_sample")
            .prefix_with("MATERIALIZED")
        )
        outputs = []
        for i, (col, _) in enumerate(pending):
            value = sample.c[f"c{i}"]
            key = _bytewise(value, col, native)
            groups = (
                sa.select(key.label("v"), sa.func.count().label("n"))
                .where(value.is_not(None))
                .group_by(key)
                .subquery()
            )
            outputs += [
                sa.select(sa.func.count(value)).scalar_subquery(),
                sa.select(sa.func.count()).select_from(groups).scalar_subquery(),
                sa.select(sa.func.count())
                .select_from(groups)
                .where(groups.c.n == 1)
                .scalar_subquery(),
            ]
        found = conn.execute(sa.select(*outputs)).one()
        for i, (col, prof) in enumerate(pending):
            n, d, f1 = (int(v or 0) for v in found[3 * i : 3 * i + 3])
            total = prof.count
            if total == 0:
                prof.distinct, prof.distinct_approx = 0, False
            elif n >= total:  # the sample is the whole column
                prof.distinct, prof.distinct_approx = d, False
            elif n == 0:
                exact.append((col, prof))
            else:
                prof.distinct = _distinct_estimate(n, d, f1, total)
    if exact:
        counts = [sa.func.count(sa.distinct(_bytewise(col.expr, col, native))) for col, _ in exact]
        found = conn.execute(sa.select(*counts).select_from(plan.base).where(*plan.where)).one()
        for (_, prof), value in zip(exact, found, strict=True):
            prof.distinct, prof.distinct_approx = int(value), False


def _distinct_estimate(n: int, d: int, f1: int, total: int) -> int:
    """The distinct values among ``total`` from a sample of ``n`` with ``d`` distinct, ``f1``
    of them seen once: the larger of Duj1 (Haas and Stokes) and the ``D`` for which ``n``
    values drawn at random from ``D`` equally likely ones show ``d`` distinct on average
    (``D*(1 - exp(-n/D)) = d``)."""
    duj1 = n * d / (n - f1 + f1 * n / total)
    lo, hi = float(d), float(total)
    for _ in range(64):  # the expected sample distinct count grows with D
        mid = (lo + hi) / 2
        if mid * -math.expm1(-n / mid) < d:
            lo = mid
        else:
            hi = mid
    return round(min(max(duj1, hi, d), total))


def _fetch(conn: Connection, plan: Plan) -> pd.DataFrame:
    """The rows of ``plan`` read on ``conn``, decoded per column spec (as ``plan.fetch()``)."""
    schema = plan.arrow_schema()
    rows = conn.execute(plan.select()).fetchall()
    arrays = []
    for i, field_ in enumerate(schema):
        values = [row[i] for row in rows]
        arr = pa.array(values) if any(v is not None for v in values) else pa.nulls(len(rows))
        arrays.append(arr.cast(field_.type))
    return plan.decode(pa.Table.from_arrays(arrays, schema=schema))


# -- histograms and top values ------------------------------------------------------------
def _histogram(
    conn: Connection, plan: Plan, col: Column, prof: ColumnProfile, bins: int
) -> list[dict]:
    lo, hi = prof.min, prof.max
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if lo == hi:
        return [{"start": lo, "end": hi, "count": prof.count}]
    number = _number(col)
    low = sa.literal(lo, sa.Double)
    high = sa.literal(hi, sa.Double)
    if plan.is_postgres:  # bins 1..n, the max itself in n + 1
        bucket = sa.func.least(sa.func.width_bucket(number, low, high, bins), bins) - 1
    else:  # the cast truncates: floor for values >= lo
        bucket = sa.case(
            (number >= high, bins - 1),
            else_=sa.cast((number - low) * bins / (high - low), sa.Integer),
        )
    bucket = bucket.label("bucket")
    query = (
        sa.select(bucket, sa.func.count().label("n"))
        .select_from(plan.base)
        .where(*plan.where, number.is_not(None), number >= low, number <= high)
        .group_by(bucket)
    )
    counts = {int(b): int(n) for b, n in conn.execute(query)}
    width = (hi - lo) / bins
    return [
        {
            "start": lo + k * width,
            "end": hi if k == bins - 1 else lo + (k + 1) * width,
            "count": counts.get(k, 0),
        }
        for k in range(bins)
    ]


def _top_values(conn: Connection, plan: Plan, col: Column, top: int) -> list[dict]:
    key = _bytewise(col.expr, col, plan.is_postgres)
    n = sa.func.count().label("n")
    query = (
        sa.select(key.label("value"), n)
        .select_from(plan.base)
        .where(*plan.where, col.expr.is_not(None))
        .group_by(key)
        .order_by(n.desc(), key)
        .limit(top)
        .subquery()
    )
    native = plan.is_postgres
    result = _fetch(
        conn,
        Plan(
            store=plan.store,
            base=query,
            columns=(
                Column("value", col.spec, query.c.value),
                Column("count", spec_for("int64", native), query.c.n),
            ),
            index=IndexLayout("fresh"),
            row=None,
            order=(OrderKey(query.c.n, ascending=False), OrderKey(query.c.value)),
        ),
    )
    return [
        {"value": _plain(v), "count": int(c)}
        for v, c in zip(result["value"].astype(object), result["count"], strict=True)
    ]


# -- statistics written with a version ---------------------------------------------------
def frame_stats(df: pd.DataFrame, kind_meta: dict) -> dict | None:
    """The statistics ``put`` keeps with a version (``kind_meta["stats"]``), computed from the
    frame being written, one entry per stored column in ``kind_meta["columns"]`` order; None
    when some column's kind has none (the profile then runs in the database)."""
    specs = kind_meta["columns"]
    if len(specs) > STATS_MAX_COLUMNS or len(specs) != df.shape[1]:
        return None
    if any(family(spec) not in _KINDS or family(spec) == "object" for spec in specs):
        return None
    rows = len(df)
    picked = None  # the rows the database path would sample (see _estimate_distinct)
    if rows > SAMPLE_ROWS:
        take = max(1, math.ceil(_SAMPLE_MOD * SAMPLE_ROWS / rows))
        picked = (np.arange(rows, dtype=np.int64) * _SAMPLE_MUL) % _SAMPLE_MOD < take
    entries = []
    for i, spec in enumerate(specs):
        entries.append(_series_stats(df.iloc[:, i], family(spec), picked))
    return {"bins": DEFAULT_BINS, "top": DEFAULT_TOP, "columns": entries}


def _series_stats(values: pd.Series, fam: str, picked: np.ndarray | None) -> dict:
    count = int(values.count())
    entry: dict[str, Any] = {"count": count}
    if fam in ("number", "datetime", "timedelta"):
        if picked is None:
            entry["distinct"] = int(values.nunique())
        else:  # estimated from the sample, as the database path does
            sample = values[picked].value_counts(dropna=True)
            n, d, f1 = int(sample.sum()), len(sample), int((sample == 1).sum())
            if count == 0:
                entry["distinct"] = 0
            elif n == 0:
                entry["distinct"] = int(values.nunique())
            else:
                entry["distinct"] = _distinct_estimate(n, d, f1, count)
                entry["distinct_approx"] = True
    if fam == "number":
        numbers = values.dropna().to_numpy(dtype="float64", na_value=np.nan)
        numbers = numbers[~np.isnan(numbers)]
        if count:
            with np.errstate(all="ignore"):
                lo, hi = float(numbers.min()), float(numbers.max())
                mean = numbers.mean()
                std = numbers.std(ddof=1) if count > 1 else None
            # JSON has no infinities: non-finite numbers are kept as text ("inf", "nan")
            entry.update({k: _stored(v) for k, v in (("min", lo), ("max", hi), ("mean", mean))})
            entry["std"] = _stored(std)
            entry["histogram"] = _array_histogram(numbers, lo, hi, count)
    elif fam in ("datetime", "timedelta"):
        if count:
            entry.update(min=_plain(values.min()), max=_plain(values.max()))
    else:  # text, category, bool: every value's count
        if fam == "bool":
            entry["mean"] = _plain(values.dropna().astype("float64").mean()) if count else None
        if picked is not None and fam == "text" and count:
            sample = values[picked].dropna()
            if len(sample) and sample.nunique() == len(sample):
                # every sampled value distinct: (nearly) all are, nothing stands out to rank;
                # counting a million distinct strings would cost seconds of the put
                entry["distinct"] = count
                entry["distinct_approx"] = True
                return entry
        counts = values.value_counts(dropna=True, sort=False)
        numbers = counts.to_numpy(dtype=np.int64)
        entry["distinct"] = int((numbers > 0).sum())
        if 0 < entry["distinct"] < count:
            least = (
                np.partition(numbers, -DEFAULT_TOP)[-DEFAULT_TOP]
                if len(numbers) > DEFAULT_TOP
                else 1
            )
            chosen = np.flatnonzero(numbers >= max(int(least), 1))
            labels = counts.index[chosen]
            pairs = [(int(numbers[k]), _plain(v)) for k, v in zip(chosen, labels, strict=True)]
            pairs.sort(key=lambda p: (-p[0], _order(p[1])))
            entry["top"] = [{"value": v, "count": n} for n, v in pairs[:DEFAULT_TOP]]
    return entry


def _stored(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return None  # as the database's aggregates give it
    return value if math.isfinite(value) else str(value)


def _loaded(value: Any) -> Any:
    return float(value) if isinstance(value, str) and value in ("inf", "-inf") else value


def _order(value: Any) -> Any:
    """Ties of the top values ordered as the database orders them (text byte by byte)."""
    return value.encode("utf-8") if isinstance(value, str) else value


def _array_histogram(numbers: np.ndarray, lo: float, hi: float, count: int) -> list[dict]:
    """``DEFAULT_BINS`` equal-width bins between ``lo`` and ``hi`` (as :func:`_histogram`)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if lo == hi:
        return [{"start": lo, "end": hi, "count": count}]
    bins = DEFAULT_BINS
    with np.errstate(all="ignore"):
        index = ((numbers - lo) * bins / (hi - lo)).astype(np.int64)
    counts = np.bincount(np.clip(index, 0, bins - 1), minlength=bins)
    width = (hi - lo) / bins
    return [
        {
            "start": lo + k * width,
            "end": hi if k == bins - 1 else lo + (k + 1) * width,
            "count": int(counts[k]),
        }
        for k in range(bins)
    ]


# -- JSON-ready values --------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A JSON-ready Python value: None for missing, ISO text for times."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, pd.Timedelta | np.timedelta64):
        return pd.Timedelta(value).isoformat()
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json_label(label: Any) -> Any:
    if isinstance(label, str | int | float | bool) or label is None:
        return label
    return str(label)
