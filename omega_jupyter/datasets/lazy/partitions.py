"""``LazyFrame.to_dask``: a dask DataFrame whose partitions are row ranges of the query,
each read from the database by the worker that computes it (only the query travels)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa
import sqlalchemy.dialects.postgresql

from omega_jupyter.datasets import frame_codec
from omega_jupyter.datasets.lazy.aggregates import register_sqlite_aggregates
from omega_jupyter.datasets.lazy.plan import Plan, decode_result
from omega_jupyter.datasets.lazy.series import unsupported
from omega_jupyter.storage.bulk import BulkIO
from omega_jupyter.storage.engine import get_database


def read_partition(url: str, bucket: str, query: sa.Select, info: dict) -> Any:
    """Run one partition's query on a worker and decode it (executed by dask)."""
    db = get_database(url)
    register_sqlite_aggregates(db.engine)
    schema = frame_codec.arrow_schema(info["kind_meta"])
    table = BulkIO(db, bucket).read(query, schema)
    if info.get("sort_rows"):  # read unordered (no sort in the database): in order here
        table = frame_codec.order_by_row(table)
    frame = decode_result(table, info)
    if info["fresh"]:  # positions continue across partitions
        first = table.column(frame_codec.ROW_COLUMN)[0].as_py() if table.num_rows else 0
        frame.index = frame.index + first
    return frame


def to_dask(plan: Plan, npartitions: int) -> Any:
    """Split ``plan`` into ``npartitions`` row ranges (by position in its order)."""
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise unsupported("to_dask without dask installed") from exc
    if int(npartitions) < 1:
        raise ValueError("npartitions must be >= 1")
    url = plan.store.db.url.render_as_string(hide_password=False)
    if plan.pristine and not plan.where and not plan.order and plan.row is not None:
        return _stored_ranges(dd, dask, plan, int(npartitions), url)
    position = sa.func.row_number().over(order_by=plan.order_clauses()) - 1
    wrapped, extra = plan.wrap(extra={"_om_pos": position})
    pos = extra["_om_pos"]
    total = int(wrapped.scalar(wrapped.count_query()))
    step = max(-(-total // int(npartitions)), 1)
    if wrapped.index.kind == "fresh":
        wrapped = wrapped.evolve(row=pos)
    ordered = wrapped.evolve(order=(), row=pos) if wrapped.index.kind == "fresh" else wrapped
    info = ordered.decode_info()
    empty = decode_result(pa.Table.from_batches([], schema=ordered.arrow_schema()), info)
    parts = []
    for start in range(0, max(total, 1), step):
        part = ordered.evolve(where=(pos >= start, pos < start + step))
        parts.append(dask.delayed(read_partition)(url, plan.store.bucket, part.select(), info))
    return dd.from_delayed(parts, meta=empty, verify_meta=False)


def _stored_ranges(dd: Any, dask: Any, plan: Plan, npartitions: int, url: str) -> Any:
    """A whole stored version: equal ranges of its stored row number (positions 0..n-1), so
    each partition is a plain range scan read through the bulk path, with no window function
    over the whole table per partition; the index comes from each row's own number."""
    info = dict(plan.decode_info(), pristine=False, sort_rows=True)
    empty = decode_result(pa.Table.from_batches([], schema=plan.arrow_schema()), info)
    if plan.is_postgres:
        ranges = _page_ranges(plan, npartitions)
    else:
        total = int(plan.scalar(plan.count_query()))
        step = max(-(-total // npartitions), 1)
        ranges = [
            (plan.row >= start, plan.row < start + step) for start in range(0, max(total, 1), step)
        ]
    parts = []
    for where in ranges:
        part = plan.evolve(where=where, pristine=False)
        query = part.select(ordered=False)  # the rows sorted by the reader, not by a database sort
        parts.append(dask.delayed(read_partition)(url, plan.store.bucket, query, info))
    return dd.from_delayed(parts, meta=empty, verify_meta=False)


def _page_ranges(plan: Plan, npartitions: int) -> list[tuple]:
    """PostgreSQL: equal ranges of the table's pages (``ctid``, a TID range scan reads only its
    pages, where a range of the row number would scan the whole table in every partition);
    the last range is open so that pages added meanwhile are read too. A table of few pages
    gets fewer partitions."""
    table = plan.base
    name = _quoted(table)
    pages = int(
        plan.scalar(
            sa.select(
                sa.func.pg_relation_size(sa.cast(name, sa.dialects.postgresql.REGCLASS))
                / sa.literal_column("current_setting('block_size')::bigint")
            )
        )
        or 0
    )
    step = max(-(-pages // npartitions), 1)
    tid = sa.literal_column(f"{_quoted(table)}.ctid")
    ranges = []
    for k in range(npartitions):
        lo, hi = k * step, (k + 1) * step
        if lo >= pages and k:
            break
        low = tid >= sa.literal_column(f"'({lo},0)'::tid")
        high = tid < sa.literal_column(f"'({hi},0)'::tid")
        ranges.append((low,) if k == npartitions - 1 or hi >= pages else (low, high))
        if hi >= pages:
            break
    return ranges


def _quoted(table: sa.Table) -> str:
    quote = sa.dialects.postgresql.dialect().identifier_preparer.quote
    return f"{quote(table.schema)}.{quote(table.name)}" if table.schema else quote(table.name)
