"""The immutable query plan behind a lazy frame: a FROM clause, column expressions, filters,
order and index layout, compiled to one SQLAlchemy ``select()`` when results are asked for.

Operations that cannot be stacked on the same SELECT (LIMIT, DISTINCT, GROUP BY, joins) wrap
the current plan into a subquery and continue from there, so every plan is one flat SELECT over
its ``base``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from omega_jupyter.datasets import frame_codec
from omega_jupyter.exceptions import UnknownColumnError

if TYPE_CHECKING:
    from omega_jupyter.datasets.store import DatasetStore

_scopes = itertools.count(1)


@dataclass(frozen=True)
class Column:
    """One output column: its label, storage spec (dtype, sql kind, …) and SQL expression."""

    label: Any
    spec: dict
    expr: Any
    where: Any = None  # the same test for WHERE, where NULL already counts as false


@dataclass(frozen=True)
class OrderKey:
    expr: Any
    ascending: bool = True
    text: bool = False


@dataclass(frozen=True)
class IndexLayout:
    """``range``: labels ``start + row * step``; ``levels``: stored index columns;
    ``fresh``: a new RangeIndex 0..n-1 (after merges and resets)."""

    kind: str
    levels: tuple[Column, ...] = ()
    multi: bool = False
    start: int = 0
    step: int = 1
    name: Any = None


@dataclass(frozen=True)
class Plan:
    store: DatasetStore
    base: Any
    columns: tuple[Column, ...]
    index: IndexLayout
    row: Any
    where: tuple = ()
    order: tuple[OrderKey, ...] = ()
    columns_meta: dict = field(default_factory=lambda: {"dtype": "object", "name": None})
    pristine: bool = False
    scope: int = field(default_factory=lambda: next(_scopes))

    # -- facts ----------------------------------------------------------------------------
    @property
    def is_postgres(self) -> bool:
        return self.store.db.is_postgres

    def labels(self) -> list[Any]:
        return [c.label for c in self.columns]

    def find(self, label: Any) -> Column:
        """The column labelled ``label`` (also an index level by name)."""
        for col in self.columns:
            if col.label == label and type(col.label) is type(label):
                return col
        for col in self.columns:
            if col.label == label or str(col.label) == str(label):
                return col
        for level in self.index.levels:
            if level.label is not None and level.label == label:
                return level
        known = ", ".join(repr(c.label) for c in self.columns)
        raise UnknownColumnError(f"unknown column {label!r}; columns: {known}")

    def evolve(self, **changes: Any) -> Plan:
        """A copy with ``changes``; the scope (which series belong to it) is kept."""
        return replace(self, **changes)

    def with_columns(self, columns: list[Column]) -> Plan:
        labels = [c.label for c in columns]
        meta = dict(self.columns_meta)
        if labels != self.labels():
            meta["dtype"] = str(pd.Index(labels).dtype) if labels else meta["dtype"]
        return self.evolve(columns=tuple(columns), columns_meta=meta)

    # -- SQL ------------------------------------------------------------------------------
    def order_clauses(self, reverse: bool = False) -> list[Any]:
        out = []
        keys = (*self.order, OrderKey(self.row)) if self.row is not None else self.order
        for key in keys:
            expr = key.expr.collate("C") if key.text and self.is_postgres else key.expr
            ascending = key.ascending != reverse
            clause = expr.asc() if ascending else expr.desc()
            # pandas puts missing values last in both directions
            out.append(clause.nulls_first() if reverse else clause.nulls_last())
        return out

    def outputs(self) -> list[tuple[str, Any]]:
        """(physical name, expression) of everything a SELECT of this plan returns."""
        row = self.row if self.row is not None else sa.literal_column("0")
        outs = [(frame_codec.ROW_COLUMN, row)]
        prefix = frame_codec.INDEX_PREFIX
        outs += [(f"{prefix}{i}", c.expr) for i, c in enumerate(self.index.levels)]
        outs += [(f"c{i}", c.expr) for i, c in enumerate(self.columns)]
        return outs

    def select(self, ordered: bool = True, reverse: bool = False) -> sa.Select:
        query = sa.select(*(expr.label(name) for name, expr in self.outputs()))
        query = query.select_from(self.base).where(*self.where)
        if ordered:
            query = query.order_by(*self.order_clauses(reverse))
        return query

    def wrap(
        self,
        limit: int | None = None,
        offset: int | None = None,
        reverse: bool = False,
        extra: dict[str, Any] | None = None,
        where: tuple = (),
    ) -> tuple[Plan, dict[str, Any]]:
        """This plan as a subquery (with LIMIT/OFFSET applied), plus extra named columns."""
        outs = self.outputs()
        keys = [(f"_om_o{i}", k) for i, k in enumerate(self.order)]
        query = sa.select(
            *(expr.label(name) for name, expr in outs),
            *(k.expr.label(name) for name, k in keys),
            *(expr.label(name) for name, expr in (extra or {}).items()),
        ).select_from(self.base)
        query = query.where(*self.where, *where)
        if limit is not None or offset is not None:
            query = query.order_by(*self.order_clauses(reverse)).limit(limit).offset(offset)
        sub = query.subquery()
        levels = tuple(
            Column(c.label, c.spec, sub.c[f"{frame_codec.INDEX_PREFIX}{i}"])
            for i, c in enumerate(self.index.levels)
        )
        plan = Plan(
            store=self.store,
            base=sub,
            columns=tuple(
                Column(c.label, c.spec, sub.c[f"c{i}"]) for i, c in enumerate(self.columns)
            ),
            index=replace(self.index, levels=levels),
            row=sub.c[frame_codec.ROW_COLUMN],
            order=tuple(replace(k, expr=sub.c[name]) for name, k in keys),
            columns_meta=self.columns_meta,
            pristine=self.pristine and not self.where and not self.order and not offset,
        )
        return plan, {name: sub.c[name] for name in extra or {}}

    def positioned(self, column: Column) -> tuple[Plan, Column, Any]:
        """(plan, column, position): the position follows the current order (cheap when the
        order is the stored one)."""
        if not self.order:
            return self, column, self.row
        position = sa.func.row_number().over(order_by=self.order_clauses())
        wrapped, extra = self.with_columns([column]).wrap(extra={"_om_pos": position})
        return wrapped, wrapped.columns[0], extra["_om_pos"]

    def count_query(self) -> sa.Select:
        return sa.select(sa.func.count()).select_from(self.base).where(*self.where)

    # -- execution ------------------------------------------------------------------------
    def kind_meta(self) -> dict:
        """The layout of a SELECT of this plan, in the stored ``kind_meta`` form."""
        if self.index.kind == "levels":
            index: dict = {
                "type": "multi" if self.index.multi else "index",
                "levels": [
                    dict(c.spec, name=c.label, phys=f"{frame_codec.INDEX_PREFIX}{i}")
                    for i, c in enumerate(self.index.levels)
                ],
            }
        elif self.index.kind == "range":
            index = {
                "type": "range",
                "start": self.index.start,
                "step": self.index.step,
                "name": self.index.name,
            }
        else:
            index = {"type": "range", "start": 0, "step": 1, "name": None}
        columns = [dict(c.spec, name=c.label, phys=f"c{i}") for i, c in enumerate(self.columns)]
        return {"columns": columns, "index": index, "columns_index": dict(self.columns_meta)}

    def arrow_schema(self) -> pa.Schema:
        return frame_codec.arrow_schema(self.kind_meta())

    def decode(self, table: pa.Table) -> pd.DataFrame:
        return decode_result(table, self.decode_info())

    def decode_info(self) -> dict:
        """What turns this plan's rows into pandas (picklable, for workers)."""
        return {
            "kind_meta": self.kind_meta(),
            "fresh": self.index.kind == "fresh",
            "pristine": self.pristine and not self.order,
        }

    def fetch(self) -> pd.DataFrame:
        schema = self.arrow_schema()
        return self.decode(self.store.bulk.read(self.select(), schema))

    def fetch_chunks(self, chunksize: int) -> Iterator[pd.DataFrame]:
        """Stream the rows in order, ``chunksize`` rows per frame."""
        schema = self.arrow_schema()
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in self.store.bulk.read_batches(self.select(), schema, batch_rows=chunksize):
            pending.append(batch)
            rows += batch.num_rows
            while rows >= chunksize:
                table = pa.Table.from_batches(pending, schema=schema)
                yield self._decode_chunk(table.slice(0, chunksize))
                rest = table.slice(chunksize)
                pending, rows = rest.to_batches(), rest.num_rows
        if rows:
            yield self._decode_chunk(pa.Table.from_batches(pending, schema=schema))

    def _decode_chunk(self, table: pa.Table) -> pd.DataFrame:
        frame = self.decode(table)
        if self.index.kind == "fresh":  # positions continue across chunks
            first = table.column(frame_codec.ROW_COLUMN)[0].as_py() if table.num_rows else 0
            frame.index = pd.RangeIndex(first, first + len(frame))
        return frame

    def scalar(self, query: sa.Select) -> Any:
        with self.store.db.connect() as conn:
            return conn.execute(query).scalar()


def decode_result(table: pa.Table, info: dict) -> pd.DataFrame:
    """Rows of a plan's SELECT as the pandas frame pandas itself would have produced."""
    meta = info["kind_meta"]
    start = 0 if info["pristine"] else None
    frame = frame_codec.decode_table(table, meta, meta["columns"], row_start=start)
    if info["fresh"]:
        frame.index = pd.RangeIndex(len(frame))
    return settle_dtypes(frame, meta["columns"])


def settle_dtypes(frame: pd.DataFrame, specs: list[dict]) -> pd.DataFrame:
    """Columns whose pandas dtype depends on the values (``dt.year`` is int32 unless NaT)."""
    for i, spec in enumerate(specs):
        target = spec.get("int_if_complete")
        if not target:
            continue
        values = frame.iloc[:, i]
        missing = values.isna()
        if not missing.any():
            frame.isetitem(i, values.astype(target))
        elif spec.get("object_if_missing"):  # bool with gaps: pandas keeps True/False/NaN
            filled = values.astype(object).where(missing, values.fillna(0).astype(target))
            frame.isetitem(i, filled.astype(object))
    return frame


def dtype_of(spec: dict) -> Any:
    return frame_codec.dtype_from_string(spec["dtype"])


def spec_for(dtype: Any, native_timestamps: bool, **extra: Any) -> dict:
    """A storage spec for values of ``dtype`` (as the frame codec would describe them)."""
    proto = pd.Series([], dtype=dtype)
    spec = frame_codec.column_spec(proto, None, "x", native_timestamps)
    spec.pop("name", None)
    spec.pop("phys", None)
    return spec | extra


def source_plan(store: DatasetStore, meta: Any, columns: list[dict]) -> Plan:
    """The plan reading a stored frame version (all of its rows, in stored order)."""
    kind_meta = meta.kind_meta
    specs = [(frame_codec.ROW_COLUMN, "int64")]
    specs += [(s["phys"], s["sql"]) for s in frame_codec.stored_specs(kind_meta)]
    table = store.bulk.table(meta.location or "", specs)
    ix = kind_meta["index"]
    if ix["type"] == "range":
        index = IndexLayout("range", start=ix["start"], step=ix["step"], name=ix["name"])
    else:
        levels = tuple(Column(s["name"], _strip(s), table.c[s["phys"]]) for s in ix["levels"])
        index = IndexLayout("levels", levels=levels, multi=ix["type"] == "multi")
    return Plan(
        store=store,
        base=table,
        columns=tuple(Column(s["name"], _strip(s), table.c[s["phys"]]) for s in columns),
        index=index,
        row=table.c[frame_codec.ROW_COLUMN],
        columns_meta=dict(kind_meta["columns_index"]),
        pristine=True,
    )


def _strip(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k not in ("name", "phys")}
