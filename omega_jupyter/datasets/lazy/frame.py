"""``LazyFrame``: a pandas-like frame whose operations compile to SQL and run in the database."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from omega_jupyter.datasets.filters import compile_filters, encode_scalar
from omega_jupyter.datasets.frame_codec import from_json_values
from omega_jupyter.datasets.ingest import write_csv
from omega_jupyter.datasets.lazy import expressions as ex
from omega_jupyter.datasets.lazy.aggregates import aggregate, quantile, register_sqlite_aggregates
from omega_jupyter.datasets.lazy.groupby import LazyGroupBy
from omega_jupyter.datasets.lazy.merge import merge
from omega_jupyter.datasets.lazy.partitions import to_dask
from omega_jupyter.datasets.lazy.persist import persist
from omega_jupyter.datasets.lazy.plan import Column, IndexLayout, OrderKey, Plan, spec_for
from omega_jupyter.datasets.lazy.query import query_mask
from omega_jupyter.datasets.lazy.series import LazyBase, LazySeries, unsupported
from omega_jupyter.exceptions import InvalidFilterError

_DESCRIBE = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


class LazyFrame(LazyBase):
    """A dataset (or a query over one) that behaves like a DataFrame; nothing runs until
    ``.value``, ``len()``, a reduction or ``persist`` asks for results."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan

    # -- facts without fetching rows ------------------------------------------------------
    @property
    def columns(self) -> pd.Index:
        meta = self._plan.columns_meta
        try:
            return pd.Index(self._plan.labels(), dtype=meta["dtype"], name=meta["name"])
        except (TypeError, ValueError):
            return pd.Index(self._plan.labels(), name=meta["name"])

    @property
    def dtypes(self) -> pd.Series:
        values = [ex.proto(c).dtype for c in self._plan.columns]
        for i, c in enumerate(self._plan.columns):
            if "category" in c.spec:
                cat = c.spec["category"]
                values[i] = pd.CategoricalDtype(from_json_values(cat["values"]), cat["ordered"])
        return pd.Series(values, index=self.columns, dtype=object)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), len(self._plan.columns)

    @property
    def _native(self) -> bool:
        return self._plan.is_postgres

    def __repr__(self) -> str:
        return f"LazyFrame(columns={self._plan.labels()!r})"

    def _with(self, plan: Plan) -> LazyFrame:
        return LazyFrame(plan)

    def _finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        labels = self._plan.labels()
        if labels and all(isinstance(label, tuple) for label in labels):
            frame.columns = pd.MultiIndex.from_tuples(labels)
        return frame

    # -- selection and filters ------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, LazySeries):
            return self._filter(key)
        if isinstance(key, slice):
            return self.iloc[key]
        if isinstance(key, list | tuple | pd.Index):
            return self._with(self._plan.with_columns([self._plan.find(k) for k in key]))
        return LazySeries(self._plan, self._plan.find(key))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        plan = self.__dict__.get("_plan")
        if plan is not None and name in plan.labels():
            return self[name]
        if hasattr(pd.DataFrame, name):
            raise unsupported(f"DataFrame.{name}")
        raise AttributeError(f"LazyFrame has no attribute or column {name!r}")

    def __setitem__(self, key: Any, value: Any) -> None:
        raise TypeError("lazy frames are immutable: use frame.assign(name=expression)")

    def _filter(self, mask: LazySeries) -> LazyFrame:
        if mask._plan.scope != self._plan.scope:
            raise unsupported("a mask built from another frame (build it from this frame)")
        if ex.family(mask._col.spec) != "bool":
            raise InvalidFilterError(f"a mask must be boolean, not {mask._col.spec['dtype']}")
        test = mask._col.where if mask._col.where is not None else mask._col.expr
        plan = self._plan.evolve(where=(*self._plan.where, test), pristine=False)
        return self._with(plan)

    def query(self, expr: str | None = None, /, **filters: Any) -> LazyFrame:
        """Keep rows matching pandas' query text (``"amount > 200 and city == 'Bern'"``, parsed,
        never evaluated: see ``lazy.query``) and/or ``column__op=value`` filters, exactly as
        ``get`` reads them."""
        if expr is not None:
            frame = self._filter(query_mask(self, expr))
            return frame.query(**filters) if filters else frame
        specs, exprs = {}, {}
        for i, col in enumerate([*self._plan.columns, *self._plan.index.levels]):
            if col.label is None or col.label in specs:
                continue
            specs[col.label] = dict(col.spec, name=col.label, phys=f"e{i}")
            exprs[f"e{i}"] = col.expr
        clauses = compile_filters(filters, _Exprs(exprs), specs)
        return self._with(self._plan.evolve(where=(*self._plan.where, *clauses), pristine=False))

    def assign(self, **columns: Any) -> LazyFrame:
        """New or replaced columns from series of this frame, callables or constants."""
        cols = list(self._plan.columns)
        for label, value in columns.items():
            if callable(value):
                value = value(self._with(self._plan.with_columns(cols)))
            if isinstance(value, LazySeries):
                if value._plan.scope != self._plan.scope:
                    raise unsupported("assign() with a series of another frame")
                new = Column(label, value._col.spec, value._col.expr)
            else:
                new = ex.literal_column(label, value, self._native)
            found = [i for i, c in enumerate(cols) if c.label == label]
            if found:
                cols[found[0]] = new
            else:
                cols.append(new)
        return self._with(self._plan.with_columns(cols))

    def rename(self, columns: dict) -> LazyFrame:
        cols = [Column(columns.get(c.label, c.label), c.spec, c.expr) for c in self._plan.columns]
        return self._with(self._plan.with_columns(cols))

    def drop(self, columns: Any) -> LazyFrame:
        names = [columns] if not isinstance(columns, list | tuple) else list(columns)
        for label in names:
            self._plan.find(label)
        keep = [c for c in self._plan.columns if c.label not in names]
        return self._with(self._plan.with_columns(keep))

    # -- order and position ---------------------------------------------------------------
    def sort_values(self, by: Any, ascending: Any = True) -> LazyFrame:
        """A stable sort (ties keep their current order); missing values go last."""
        keys = [by] if not isinstance(by, list | tuple) else list(by)
        flags = [ascending] * len(keys) if isinstance(ascending, bool) else list(ascending)
        if len(flags) != len(keys):
            raise ValueError("ascending must be a bool or one bool per sort key")
        order = [_order_key(self._plan.find(k), bool(a)) for k, a in zip(keys, flags, strict=True)]
        plan = self._plan.evolve(order=(*order, *self._plan.order), pristine=False)
        return self._with(plan)

    def head(self, n: int = 5) -> LazyFrame:
        if n < 0:
            return self.iloc[: int(n)]
        return self._with(self._plan.wrap(limit=int(n))[0])

    def tail(self, n: int = 5) -> LazyFrame:
        if n < 0:
            return self.iloc[-int(n) :]
        return self._with(self._plan.wrap(limit=int(n), reverse=True)[0])

    @property
    def iloc(self) -> _ILoc:
        return _ILoc(self)

    @property
    def loc(self) -> _Loc:
        return _Loc(self)

    def drop_duplicates(self, subset: Any = None, keep: Any = "first") -> LazyFrame:
        """Rows whose ``subset`` values were not seen before (``keep='first'|'last'|False``)."""
        plan = self._plan
        labels = plan.labels() if subset is None else subset
        labels = [labels] if not isinstance(labels, list | tuple) else labels
        keys = [plan.find(k).expr for k in labels]
        if keep is False:
            marker = sa.func.count().over(partition_by=keys)
        elif keep in ("first", "last"):
            order = plan.order_clauses(reverse=keep == "last")
            marker = sa.func.row_number().over(partition_by=keys, order_by=order)
        else:
            raise ValueError("keep must be 'first', 'last' or False")
        wrapped, extra = plan.wrap(extra={"_om_dup": marker})
        return self._with(wrapped.evolve(where=(extra["_om_dup"] == 1,), pristine=False))

    # -- grouping, reductions, joins ------------------------------------------------------
    def groupby(
        self, by: Any, sort: bool = True, dropna: bool = True, as_index: bool = True
    ) -> Any:
        return LazyGroupBy(self._plan, by, sort=sort, dropna=dropna, as_index=as_index)

    def merge(self, right: LazyFrame, **kwargs: Any) -> LazyFrame:
        return merge(self, right, **kwargs)

    def _reduce(self, how: str, numeric_only: bool = False) -> pd.Series:
        register_sqlite_aggregates(self._plan.store.db.engine)
        cols = self._plan.columns
        if numeric_only:
            cols = tuple(c for c in cols if ex.family(c.spec) in ("number", "bool"))
        aggs = [aggregate(c, how, self._native) for c in cols]
        query = sa.select(*(a.expr.label(f"v{i}") for i, a in enumerate(aggs)))
        sub = query.select_from(self._plan.base).where(*self._plan.where).subquery()
        plan = Plan(
            store=self._plan.store,
            base=sub,
            columns=tuple(Column(a.label, a.spec, sub.c[f"v{i}"]) for i, a in enumerate(aggs)),
            index=IndexLayout("fresh"),
            row=None,
            columns_meta=self._plan.columns_meta,
        )
        row = plan.fetch().iloc[0]
        row.name = None
        return row

    def count(self) -> pd.Series:
        return self._reduce("count")

    def sum(self, numeric_only: bool = False) -> pd.Series:
        return self._reduce("sum", numeric_only)

    def mean(self, numeric_only: bool = False) -> pd.Series:
        return self._reduce("mean", numeric_only)

    def min(self, numeric_only: bool = False) -> pd.Series:
        return self._reduce("min", numeric_only)

    def max(self, numeric_only: bool = False) -> pd.Series:
        return self._reduce("max", numeric_only)

    def std(self, numeric_only: bool = False) -> pd.Series:
        return self._reduce("std", numeric_only)

    def var(self, numeric_only: bool = False) -> pd.Series:
        return self._reduce("var", numeric_only)

    def median(self, numeric_only: bool = False) -> pd.Series:
        return self._reduce("median", numeric_only)

    def nunique(self) -> pd.Series:
        return self._reduce("nunique")

    def describe(self) -> pd.DataFrame:
        """count, mean, std, min, quartiles and max of the numeric columns, computed in SQL."""
        register_sqlite_aggregates(self._plan.store.db.engine)
        cols = [c for c in self._plan.columns if ex.family(c.spec) == "number"]
        if not cols:
            raise unsupported("describe() of a frame without numeric columns")
        exprs = []
        for col in cols:
            number = sa.cast(col.expr, sa.Double)
            exprs += [
                sa.cast(sa.func.count(col.expr), sa.Double),
                sa.func.avg(number),
                aggregate(col, "std", self._native).expr,
                sa.cast(sa.func.min(col.expr), sa.Double),
                *(quantile(number, q, self._native) for q in (0.25, 0.5, 0.75)),
                sa.cast(sa.func.max(col.expr), sa.Double),
            ]
        query = sa.select(*(e.label(f"v{i}") for i, e in enumerate(exprs)))
        sub = query.select_from(self._plan.base).where(*self._plan.where).subquery()
        spec = spec_for("float64", self._native)
        plan = Plan(
            store=self._plan.store,
            base=sub,
            columns=tuple(Column(i, spec, c) for i, c in enumerate(sub.c)),
            index=IndexLayout("fresh"),
            row=None,
        )
        values = plan.fetch().to_numpy().reshape(len(cols), len(_DESCRIBE)).T
        labels = [c.label for c in cols]
        columns = pd.Index(labels, name=self._plan.columns_meta["name"])
        return pd.DataFrame(values, index=_DESCRIBE, columns=columns)

    # -- output ---------------------------------------------------------------------------
    def persist(self, name: str, attributes: dict | None = None) -> Any:
        """Store the result as dataset ``name`` inside the database (no rows pass through
        Python); the new version becomes visible atomically."""
        return persist(self._plan, name, attributes)

    def to_csv(self, path_or_buf: Any, chunksize: int = 100_000, **kwargs: Any) -> int:
        """Stream the result to a CSV file (gzip by extension); returns the rows written."""
        return write_csv(self.iterchunks(chunksize), path_or_buf, **kwargs)

    def to_dask(self, npartitions: int = 4) -> Any:
        """A dask DataFrame whose partitions the workers read from the database (row ranges)."""
        return to_dask(self._plan, npartitions)


class _Exprs:
    """Gives ``compile_filters`` expressions where it expects a table's ``.c``."""

    def __init__(self, exprs: dict) -> None:
        self.c = exprs


def _order_key(col: Column, ascending: bool) -> OrderKey:
    expr = col.expr
    if "category" in col.spec:  # categories sort in category order, not by value
        values = col.spec["category"]["values"].get("values")
        if values is None:
            raise unsupported("sorting by a datetime categorical")
        inner = col.spec["category"]["inner"]
        whens = {encode_scalar(inner | {"name": col.label}, v): i for i, v in enumerate(values)}
        expr = sa.case(whens, value=expr)
        return OrderKey(expr, ascending)
    return OrderKey(expr, ascending, text=ex.family(col.spec) == "text")


def _index_key(plan: Plan) -> Column:
    """The first index level as a column (range labels are computed from the row)."""
    if plan.index.kind == "levels":
        return plan.index.levels[0]
    if plan.index.kind == "range":
        expr = plan.index.start + plan.row * plan.index.step
        return Column(plan.index.name, spec_for("int64", plan.is_postgres), expr)
    raise unsupported("loc on a frame without a stored index (after merge or reset)")


class _ILoc:
    def __init__(self, frame: LazyFrame) -> None:
        self._f = frame

    def __getitem__(self, key: Any) -> Any:
        cols = None
        if isinstance(key, tuple):
            key, cols = key
        frame = self._f
        if cols is not None:
            picked = frame._plan.columns[cols] if isinstance(cols, slice) else None
            if picked is None:
                idx = [cols] if isinstance(cols, int) else list(cols)
                picked = tuple(frame._plan.columns[i] for i in idx)
            frame = LazyFrame(frame._plan.with_columns(list(picked)))
        if isinstance(key, int):
            rows = frame.iloc[key : key + 1 if key != -1 else None].value
            if len(rows) != 1:
                raise IndexError("single positional indexer is out-of-bounds")
            return rows.iloc[0]
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise unsupported(f"iloc[{key!r}] (only slices with step 1 and integers)")
        start, stop = key.start or 0, key.stop
        if start < 0 or (stop is not None and stop < 0):
            start, stop, _ = slice(start, stop).indices(len(frame))
        limit = None if stop is None else max(stop - start, 0)
        return LazyFrame(frame._plan.wrap(limit=limit, offset=start or None)[0])


class _Loc:
    def __init__(self, frame: LazyFrame) -> None:
        self._f = frame

    def __getitem__(self, key: Any) -> Any:
        frame = self._f
        if isinstance(key, tuple) and len(key) == 2 and frame._plan.index.multi is False:
            key, cols = key
            if not (isinstance(cols, slice) and cols == slice(None)):
                frame = frame[[cols] if not isinstance(cols, list) else cols]
                if not isinstance(cols, list):
                    series = frame[frame._plan.labels()[0]]
                    return series.loc[key]
        if isinstance(key, LazySeries):
            return frame._filter(key)
        col = _index_key(frame._plan)
        spec = dict(col.spec, name=col.label)
        if isinstance(key, slice):
            if key.step is not None:
                raise unsupported("loc with a step")
            where = []
            if key.start is not None:
                where.append(col.expr >= encode_scalar(spec, key.start, "loc"))
            if key.stop is not None:
                where.append(col.expr <= encode_scalar(spec, key.stop, "loc"))
            plan = frame._plan.evolve(where=(*frame._plan.where, *where), pristine=False)
            return LazyFrame(plan)
        if isinstance(key, list):
            values = [encode_scalar(spec, v, "loc") for v in key]
            plan = frame._plan.evolve(
                where=(*frame._plan.where, col.expr.in_(values)), pristine=False
            )
            return LazyFrame(plan)
        # one label: pandas returns a row (Series) or the matching rows; fetch only those
        where = col.expr == encode_scalar(spec, key, "loc")
        rows = LazyFrame(frame._plan.evolve(where=(*frame._plan.where, where))).value
        return rows.loc[key]
