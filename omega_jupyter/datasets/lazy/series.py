"""``LazySeries``: one column of a lazy frame; comparisons build masks, reductions execute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from omega_jupyter.datasets.lazy import expressions as ex
from omega_jupyter.datasets.lazy.aggregates import aggregate, register_sqlite_aggregates
from omega_jupyter.datasets.lazy.plan import Column, IndexLayout, OrderKey, Plan, spec_for


def unsupported(operation: str) -> NotImplementedError:
    return NotImplementedError(
        f"{operation} is not supported on lazy datasets; fetch the rows first with .value "
        "(after filtering them down) and use pandas"
    )


class LazyBase:
    """What frames and series share: size, SQL, execution and streaming."""

    _plan: Plan

    @property
    def sql(self) -> str:
        """The SQL that ``.value`` runs (values inlined for reading; execution binds them)."""
        query = self._plan.select()
        dialect = self._plan.store.db.engine.dialect
        try:
            return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        except Exception:  # some literal types cannot be rendered; show the bound form
            return str(query.compile(dialect=dialect))

    def __len__(self) -> int:
        return int(self._plan.scalar(self._plan.count_query()))

    def _frame(self) -> pd.DataFrame:
        register_sqlite_aggregates(self._plan.store.db.engine)
        return self._plan.fetch()

    def iterchunks(self, chunksize: int = 100_000) -> Iterator[Any]:
        """Stream the result in frames of ``chunksize`` rows (a server-side cursor)."""
        if int(chunksize) < 1:
            raise ValueError("chunksize must be >= 1")
        register_sqlite_aggregates(self._plan.store.db.engine)
        for chunk in self._plan.fetch_chunks(int(chunksize)):
            yield self._finish(chunk)

    def _finish(self, frame: pd.DataFrame) -> Any:
        return frame

    @property
    def value(self) -> Any:
        """Run the query and return the pandas result."""
        return self._finish(self._frame())

    def to_pandas(self) -> Any:
        return self.value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.value, dtype=dtype)

    def __iter__(self) -> Iterator[Any]:
        raise unsupported("iterating a lazy dataset row by row (use iterchunks)")

    def __bool__(self) -> bool:
        raise ValueError("the truth value of a lazy dataset is ambiguous; use & | ~ for masks")


class LazySeries(LazyBase):
    """A column of a lazy frame (or a computed expression over its columns)."""

    def __init__(self, plan: Plan, column: Column) -> None:
        self._plan = plan.with_columns([column])
        self._col = column

    # -- facts ----------------------------------------------------------------------------
    @property
    def name(self) -> Any:
        return self._col.label

    @property
    def dtype(self) -> Any:
        return ex.proto(self._col).dtype if "category" not in self._col.spec else "category"

    @property
    def _native(self) -> bool:
        return self._plan.is_postgres

    def _new(self, column: Column) -> LazySeries:
        return LazySeries(self._plan, column)

    def _finish(self, frame: pd.DataFrame) -> pd.Series:
        series = frame.iloc[:, 0]
        series.name = self._col.label
        return series

    def __repr__(self) -> str:
        return f"LazySeries(name={self.name!r}, dtype={self._col.spec['dtype']})"

    def _operand(self, other: Any) -> Any:
        if isinstance(other, LazySeries):
            if other._plan.scope != self._plan.scope:
                raise unsupported("combining series of different lazy frames (align them)")
            return other._col
        return other

    # -- comparisons and logic ------------------------------------------------------------
    def _compare(self, other: Any, op: str) -> LazySeries:
        return self._new(ex.compare(self._col, self._operand(other), op, self._native))

    def __eq__(self, other: Any) -> LazySeries:  # type: ignore[override]
        return self._compare(other, "eq")

    def __ne__(self, other: Any) -> LazySeries:  # type: ignore[override]
        return self._compare(other, "ne")

    def __lt__(self, other: Any) -> LazySeries:
        return self._compare(other, "lt")

    def __le__(self, other: Any) -> LazySeries:
        return self._compare(other, "le")

    def __gt__(self, other: Any) -> LazySeries:
        return self._compare(other, "gt")

    def __ge__(self, other: Any) -> LazySeries:
        return self._compare(other, "ge")

    __hash__ = None  # type: ignore[assignment]

    def __and__(self, other: LazySeries) -> LazySeries:
        return self._new(ex.logical(self._col, self._operand(other), "and", self._native))

    def __or__(self, other: LazySeries) -> LazySeries:
        return self._new(ex.logical(self._col, self._operand(other), "or", self._native))

    def __invert__(self) -> LazySeries:
        return self._new(ex.logical(self._col, None, "not", self._native))

    def isin(self, values: Any) -> LazySeries:
        return self._new(ex.isin(self._col, values, self._native))

    def isnull(self) -> LazySeries:
        return self._new(ex.isnull(self._col, self._native))

    def notnull(self) -> LazySeries:
        return self._new(ex.isnull(self._col, self._native, negate=True))

    isna = isnull
    notna = notnull

    def between(self, left: Any, right: Any, inclusive: str = "both") -> LazySeries:
        lower = self >= left if inclusive in ("both", "left") else self > left
        upper = self <= right if inclusive in ("both", "right") else self < right
        return lower & upper

    # -- arithmetic -----------------------------------------------------------------------
    def _arith(self, other: Any, op: str, reflected: bool = False) -> LazySeries:
        column = ex.arithmetic(self._col, self._operand(other), op, self._native, reflected)
        return self._new(column)

    def __add__(self, other: Any) -> LazySeries:
        return self._arith(other, "add")

    def __radd__(self, other: Any) -> LazySeries:
        return self._arith(other, "add", True)

    def __sub__(self, other: Any) -> LazySeries:
        return self._arith(other, "sub")

    def __rsub__(self, other: Any) -> LazySeries:
        return self._arith(other, "sub", True)

    def __mul__(self, other: Any) -> LazySeries:
        return self._arith(other, "mul")

    def __rmul__(self, other: Any) -> LazySeries:
        return self._arith(other, "mul", True)

    def __truediv__(self, other: Any) -> LazySeries:
        return self._arith(other, "truediv")

    def __rtruediv__(self, other: Any) -> LazySeries:
        return self._arith(other, "truediv", True)

    def __neg__(self) -> LazySeries:
        return self._new(ex.negate(self._col, self._native))

    def __floordiv__(self, other: Any) -> LazySeries:
        raise unsupported("floor division //")

    def __mod__(self, other: Any) -> LazySeries:
        raise unsupported("modulo %")

    def __pow__(self, other: Any) -> LazySeries:
        raise unsupported("power **")

    # -- accessors ------------------------------------------------------------------------
    @property
    def str(self) -> _StringMethods:
        return _StringMethods(self)

    @property
    def dt(self) -> _DatetimeMethods:
        return _DatetimeMethods(self)

    # -- reshaping (lazy) -----------------------------------------------------------------
    def to_frame(self, name: Any = None) -> Any:
        from omega_jupyter.datasets.lazy.frame import LazyFrame  # cycle: frame imports this module

        label = self._col.label if name is None else name
        column = Column(label, self._col.spec, self._col.expr)
        return LazyFrame(self._plan.with_columns([column]))

    def _frame_op(self, method: str, *args: Any, **kwargs: Any) -> LazySeries:
        result = getattr(self.to_frame(), method)(*args, **kwargs)
        return LazySeries(result._plan, result._plan.columns[0])

    def head(self, n: int = 5) -> LazySeries:
        return self._frame_op("head", n)

    def tail(self, n: int = 5) -> LazySeries:
        return self._frame_op("tail", n)

    def sort_values(self, ascending: bool = True) -> LazySeries:
        return self._frame_op("sort_values", self._col.label, ascending=ascending)

    def drop_duplicates(self, keep: Any = "first") -> LazySeries:
        return self._frame_op("drop_duplicates", keep=keep)

    @property
    def iloc(self) -> Any:
        return _SeriesIndexer(self, "iloc")

    @property
    def loc(self) -> Any:
        return _SeriesIndexer(self, "loc")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, LazySeries):
            return self._frame_op("__getitem__", key)
        raise unsupported(f"series[{type(key).__name__}]")

    # -- reductions (execute; they return small results) ----------------------------------
    def _reduce(self, how: str) -> Any:
        register_sqlite_aggregates(self._plan.store.db.engine)
        agg = aggregate(self._col, how, self._native)
        plan = self._plan
        query = sa.select(agg.expr.label("v")).select_from(plan.base).where(*plan.where)
        if how in ("first", "last"):
            raise unsupported(f"Series.{how}")
        sub = query.subquery()
        grouped = Plan(
            store=plan.store,
            base=sub,
            columns=(Column(self._col.label, agg.spec, sub.c.v),),
            index=IndexLayout("fresh"),
            row=None,
        )
        frame = grouped.fetch()
        return frame.iloc[0, 0]

    def count(self) -> Any:
        return self._reduce("count")

    def sum(self) -> Any:
        return self._reduce("sum")

    def mean(self) -> Any:
        return self._reduce("mean")

    def min(self) -> Any:
        return self._reduce("min")

    def max(self) -> Any:
        return self._reduce("max")

    def std(self) -> Any:
        return self._reduce("std")

    def var(self) -> Any:
        return self._reduce("var")

    def median(self) -> Any:
        return self._reduce("median")

    def nunique(self) -> int:
        return int(self._reduce("nunique"))

    def unique(self) -> Any:
        """The distinct values in order of first appearance (NaN included), like pandas."""
        plan, col, position = self._plan.positioned(self._col)
        first = sa.func.min(position).label("first")
        query = (
            sa.select(col.expr.label("v"), first)
            .select_from(plan.base)
            .where(*plan.where)
            .group_by(col.expr)
        )
        sub = query.subquery()
        distinct = Plan(
            store=plan.store,
            base=sub,
            columns=(Column(self._col.label, self._col.spec, sub.c.v),),
            index=IndexLayout("fresh"),
            row=sub.c.first,
        )
        return distinct.fetch().iloc[:, 0].unique()

    def value_counts(
        self, normalize: bool = False, ascending: bool = False, dropna: bool = True
    ) -> LazySeries:
        """Counts per distinct value, most frequent first (ties in order of appearance)."""
        plan, col, position = self._plan.positioned(self._col)
        value = col.expr
        count = sa.func.count().label("n")
        where = (*plan.where, value.is_not(None)) if dropna else plan.where
        query = (
            sa.select(value.label("v"), count, sa.func.min(position).label("first"))
            .select_from(plan.base)
            .where(*where)
            .group_by(value)
        )
        sub = query.subquery()
        measure: Any = sub.c.n
        label, spec = "count", spec_for("int64", self._native)
        if normalize:
            total = sa.select(sa.func.sum(sub.c.n)).scalar_subquery()
            measure = sa.cast(sub.c.n, sa.Double) / sa.cast(total, sa.Double)
            label, spec = "proportion", spec_for("float64", self._native)
        result = Plan(
            store=plan.store,
            base=sub,
            columns=(Column(label, spec, measure),),
            index=IndexLayout("levels", levels=(Column(self._col.label, self._col.spec, sub.c.v),)),
            row=sub.c.first,
            order=(OrderKey(sub.c.n, ascending=ascending),),
        )
        return LazySeries(result, result.columns[0])

    def describe(self) -> pd.Series:
        from omega_jupyter.datasets.lazy.frame import LazyFrame  # cycle: frame imports this module

        return LazyFrame(self._plan).describe().iloc[:, 0]


class _StringMethods:
    def __init__(self, series: LazySeries) -> None:
        self._s = series

    def _op(self, how: str, *args: Any, **kwargs: Any) -> LazySeries:
        return self._s._new(ex.string_op(self._s._col, how, self._s._native, *args, **kwargs))

    def contains(self, pat: str, case: bool = True, regex: bool = True) -> LazySeries:
        return self._op("contains", pat, case=case, regex=regex)

    def startswith(self, pat: str) -> LazySeries:
        return self._op("startswith", pat)

    def endswith(self, pat: str) -> LazySeries:
        return self._op("endswith", pat)

    def lower(self) -> LazySeries:
        return self._op("lower")

    def upper(self) -> LazySeries:
        return self._op("upper")

    def len(self) -> LazySeries:
        return self._op("len")

    def __getattr__(self, name: str) -> Any:
        raise unsupported(f".str.{name}")


class _DatetimeMethods:
    def __init__(self, series: LazySeries) -> None:
        self._s = series

    def __getattr__(self, part: str) -> LazySeries:
        if part.startswith("_"):
            raise AttributeError(part)
        return self._s._new(ex.datetime_part(self._s._col, part, self._s._native))


class _SeriesIndexer:
    def __init__(self, series: LazySeries, how: str) -> None:
        self._s = series
        self._how = how

    def __getitem__(self, key: Any) -> Any:
        frame = getattr(self._s.to_frame(), self._how)[key]
        if isinstance(frame, pd.DataFrame):
            return frame.iloc[:, 0]
        if isinstance(frame, pd.Series):  # one row of a one-column frame
            return frame.iloc[0]
        return LazySeries(frame._plan, frame._plan.columns[0])
