"""``LazyFrame.persist``: ``INSERT INTO new_table SELECT …`` inside the database, then one
metadata commit, so the result is an ordinary dataset that ``get`` reads back exactly."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from omega_jupyter.datasets import frame_codec
from omega_jupyter.datasets.lazy.aggregates import register_sqlite_aggregates
from omega_jupyter.datasets.lazy.plan import Column, Plan, spec_for
from omega_jupyter.names import validate_name
from omega_jupyter.storage.bulk import SQL_TYPES, new_table_name
from omega_jupyter.storage.metadata import Metadata

_TRANSIENT = ("int_if_complete", "object_if_missing")


def persist(plan: Plan, name: str, attributes: dict | None = None) -> Metadata:
    """Materialize ``plan`` as a new version of dataset ``name`` (atomic, like ``put``)."""
    store = plan.store
    validate_name(name)
    store.db.ensure_schema()
    register_sqlite_aggregates(store.db.engine)
    columns = _settle(plan)
    phys = frame_codec.physical_names([c.label for c in columns])
    specs = [dict(c.spec, name=c.label, phys=p) for c, p in zip(columns, phys, strict=True)]
    index_meta, index_outputs = _index(plan)
    kind_meta: dict[str, Any] = {
        "columns": specs,
        "columns_index": dict(plan.columns_meta),
        "index": index_meta,
    }
    table = store.bulk.table(new_table_name(), frame_codec.table_columns(kind_meta))
    row = sa.func.row_number().over(order_by=plan.order_clauses()) - 1
    outputs = [(frame_codec.ROW_COLUMN, row), *index_outputs]
    outputs += [(s["phys"], c.expr) for s, c in zip(specs, columns, strict=True)]
    query = sa.select(*(expr.label(n) for n, expr in outputs)).select_from(plan.base)
    query = query.where(*plan.where)
    with store.db.begin() as conn:
        store.db.ensure_data_schema(conn, store.bucket)
        table.create(conn)
        conn.execute(table.insert().from_select([n for n, _ in outputs], query))
        rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0
        sealed = store.bulk.seal(conn, table.name)
    kind_meta["rows"] = int(rows)
    return store.commit_table(
        name,
        "pandas.dataframe",
        sealed,
        kind_meta=kind_meta,
        attributes=attributes,
        size=int(rows) * 8 * (len(specs) + 1),
    )


def _settle(plan: Plan) -> list[Column]:
    """Columns whose dtype depends on missing values (``dt.year``, merged ints) get their
    final dtype from one counting query, so the stored spec is exact."""
    maybe = [i for i, c in enumerate(plan.columns) if c.spec.get("int_if_complete")]
    if not maybe:
        return list(plan.columns)
    nulls = [sa.func.count() - sa.func.count(plan.columns[i].expr) for i in maybe]
    query = sa.select(*nulls).select_from(plan.base).where(*plan.where)
    with plan.store.db.connect() as conn:
        counts = conn.execute(query).one()
    out = list(plan.columns)
    for i, missing in zip(maybe, counts, strict=True):
        col = out[i]
        clean = {k: v for k, v in col.spec.items() if k not in _TRANSIENT}
        if missing:
            out[i] = Column(col.label, clean, col.expr)
            continue
        target = col.spec["int_if_complete"]
        spec = spec_for(target, plan.is_postgres)
        out[i] = Column(col.label, spec, sa.cast(col.expr, _sql_type(spec["sql"])))
    return out


def _sql_type(sql: str) -> Any:
    return SQL_TYPES[sql]


def _index(plan: Plan) -> tuple[dict, list[tuple[str, Any]]]:
    layout = plan.index
    if layout.kind == "levels":
        levels = []
        outputs = []
        for i, c in enumerate(layout.levels):
            phys = f"{frame_codec.INDEX_PREFIX}{i}"
            levels.append(dict(c.spec, name=c.label, phys=phys))
            outputs.append((phys, c.expr))
        return {"type": "multi" if layout.multi else "index", "levels": levels}, outputs
    if layout.kind == "range" and not (plan.pristine and not plan.order):
        # a filtered or reordered RangeIndex keeps its labels: store them as an index level
        spec = spec_for("int64", plan.is_postgres)
        level = dict(spec, name=layout.name, phys=f"{frame_codec.INDEX_PREFIX}0")
        expr = layout.start + plan.row * layout.step
        return {"type": "index", "levels": [level]}, [(level["phys"], expr)]
    if layout.kind == "range":
        meta = {"type": "range", "start": layout.start, "step": layout.step, "name": layout.name}
        return meta, []
    return {"type": "range", "start": 0, "step": 1, "name": None}, []
