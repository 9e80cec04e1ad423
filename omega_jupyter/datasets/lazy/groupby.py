"""``groupby`` on lazy frames: one GROUP BY query whose result is again a lazy frame."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from omega_jupyter.datasets.lazy import expressions as ex
from omega_jupyter.datasets.lazy.aggregates import AGGREGATES, aggregate
from omega_jupyter.datasets.lazy.plan import Column, IndexLayout, OrderKey, Plan, spec_for
from omega_jupyter.datasets.lazy.series import LazySeries, unsupported


class LazyGroupBy:
    """Rows grouped by key columns; aggregations return lazy frames (or series)."""

    def __init__(
        self,
        plan: Plan,
        by: Any,
        sort: bool = True,
        dropna: bool = True,
        as_index: bool = True,
        selection: Any = None,
    ) -> None:
        self._plan = plan
        self._by = list(by) if isinstance(by, list | tuple) else [by]
        if not self._by:
            raise ValueError("groupby needs at least one key")
        self._keys = [plan.find(k) for k in self._by]  # unknown keys fail here, by name
        self._sort = sort
        self._dropna = dropna
        self._as_index = as_index
        self._selection = selection

    def __getitem__(self, key: Any) -> LazyGroupBy:
        labels = key if isinstance(key, list) else [key]
        for label in labels:
            self._plan.find(label)
        return LazyGroupBy(
            self._plan, self._by, self._sort, self._dropna, self._as_index, selection=key
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._plan.labels():
            return self[name]
        raise unsupported(f"GroupBy.{name}")

    def _values(self) -> list[Column]:
        if self._selection is None:
            keys = {id(k) for k in self._keys}
            return [c for c in self._plan.columns if id(c) not in keys]
        labels = self._selection if isinstance(self._selection, list) else [self._selection]
        return [self._plan.find(label) for label in labels]

    # -- aggregations ---------------------------------------------------------------------
    def count(self) -> Any:
        return self.agg("count")

    def sum(self) -> Any:
        return self.agg("sum")

    def mean(self) -> Any:
        return self.agg("mean")

    def min(self) -> Any:
        return self.agg("min")

    def max(self) -> Any:
        return self.agg("max")

    def std(self) -> Any:
        return self.agg("std")

    def var(self) -> Any:
        return self.agg("var")

    def median(self) -> Any:
        return self.agg("median")

    def nunique(self) -> Any:
        return self.agg("nunique")

    def first(self) -> Any:
        return self.agg("first")

    def last(self) -> Any:
        return self.agg("last")

    def size(self) -> Any:
        size = Column(None, spec_for("int64", self._plan.is_postgres), None)
        result = self._build([(None if self._as_index else "size", size, "size")])
        return _series(result) if self._as_index else result

    def agg(self, func: Any) -> Any:
        """``'sum'``, a list of names (MultiIndex columns) or ``{column: name(s)}``."""
        values = self._values()
        series_like = self._selection is not None and not isinstance(self._selection, list)
        if isinstance(func, str):
            result = self._build([(c.label, c, func) for c in values])
            return _series(result) if series_like and self._as_index else result
        if isinstance(func, list):
            if series_like:
                return self._build([(f, values[0], f) for f in func])
            return self._build([((c.label, f), c, f) for c in values for f in func])
        if isinstance(func, dict):
            items: list[tuple[Any, Column, str]] = []
            nested = any(isinstance(f, list) for f in func.values())
            for label, fs in func.items():
                col = self._plan.find(label)
                for f in fs if isinstance(fs, list) else [fs]:
                    items.append(((label, f) if nested else label, col, f))
            return self._build(items)
        raise unsupported(f"GroupBy.agg({type(func).__name__})")

    aggregate = agg

    def _build(self, items: list[tuple[Any, Column, str]]) -> Any:
        from omega_jupyter.datasets.lazy.frame import LazyFrame  # cycle: frame imports this module

        for _, _, how in items:
            if how not in AGGREGATES:
                raise unsupported(f"GroupBy aggregate {how!r}")
        plan, keys, items, ranks = self._prepare(items)
        native = plan.is_postgres
        key_exprs = [k.expr for k in keys]
        aggs = [
            aggregate(col, how, native, rank=ranks.get(i))
            if how != "size"
            else Column(None, col.spec, sa.func.count())
            for i, (_, col, how) in enumerate(items)
        ]
        order = [_key_order(k, native) for k in keys] if self._sort else [sa.func.min(plan.row)]
        row = sa.func.row_number().over(order_by=order) - 1
        where = [e.is_not(None) for e in key_exprs] if self._dropna else []
        query = (
            sa.select(
                *(e.label(f"k{i}") for i, e in enumerate(key_exprs)),
                *(a.expr.label(f"a{i}") for i, a in enumerate(aggs)),
                row.label("_om_row"),
            )
            .select_from(plan.base)
            .where(*plan.where, *where)
            .group_by(*key_exprs)
        )
        sub = query.subquery()
        key_cols = tuple(Column(k.label, k.spec, sub.c[f"k{i}"]) for i, k in enumerate(keys))
        agg_cols = [
            Column(label, a.spec, sub.c[f"a{i}"])
            for i, ((label, _, _), a) in enumerate(zip(items, aggs, strict=True))
        ]
        if self._as_index:
            index = IndexLayout("levels", levels=key_cols, multi=len(key_cols) > 1)
            columns = agg_cols
        else:
            index = IndexLayout("fresh")
            columns = [*key_cols, *agg_cols]
        result = Plan(
            store=plan.store,
            base=sub,
            columns=(),
            index=index,
            row=sub.c["_om_row"],
            columns_meta=dict(self._plan.columns_meta),
        )
        return LazyFrame(result.with_columns(columns))

    def _prepare(
        self, items: list[tuple[Any, Column, str]]
    ) -> tuple[Plan, list[Column], list[tuple[Any, Column, str]], dict[int, Any]]:
        """For first/last, number each group's non-null values in row order first."""
        wanted = [i for i, (_, _, how) in enumerate(items) if how in ("first", "last")]
        if not wanted:
            return self._plan, self._keys, items, {}
        plan = self._plan
        keys = [k.expr for k in self._keys]
        extra = {}
        for i in wanted:
            _, col, how = items[i]
            partition = [*keys, sa.case((col.expr.is_(None), 1), else_=0)]
            order = plan.order_clauses(reverse=how == "last")
            extra[f"_om_r{i}"] = sa.func.row_number().over(partition_by=partition, order_by=order)
        # carry every column the aggregation reads through the subquery
        every = [*self._keys, *(c for _, c, _ in items if c.expr is not None)]
        carried = list({id(c): c for c in every}.values())
        inner = plan.with_columns(carried)
        wrapped, ranks = inner.wrap(extra=extra)
        mapping = {id(c): w for c, w in zip(carried, wrapped.columns, strict=True)}
        keys_w = [mapping[id(k)] for k in self._keys]
        items_w = [(label, mapping.get(id(col), col), how) for label, col, how in items]
        return wrapped, keys_w, items_w, {i: ranks[f"_om_r{i}"] for i in wanted}


def _key_order(key: Column, native: bool) -> Any:
    expr = key.expr
    if ex.family(key.spec) == "text" and native:
        expr = expr.collate("C")
    return expr.asc().nulls_last()


def _series(frame: Any) -> LazySeries:
    plan = frame._plan
    return LazySeries(plan, plan.columns[0])


__all__ = ["LazyGroupBy", "OrderKey"]
