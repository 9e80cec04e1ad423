"""Aggregate expressions (``sum``, ``mean``, ``std``, ``first`` …) with pandas' result dtypes.

PostgreSQL has every aggregate built in; SQLite lacks variance and median, which are added as
small Python aggregates on each connection (the embedded database is for modest data).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event

from omega_jupyter.datasets.lazy.expressions import family, proto
from omega_jupyter.datasets.lazy.plan import Column, spec_for

AGGREGATES = (
    *("count", "size", "sum", "mean", "min", "max", "std", "var"),
    *("nunique", "first", "last", "median"),
)
_ORDERED = ("min", "max", "first", "last")
_registered: weakref.WeakSet = weakref.WeakSet()


def aggregate(col: Column, how: str, native: bool, rank: Any = None) -> Column:
    """The aggregate ``how`` of ``col`` as a column of the grouped (or whole) result.

    ``rank`` (first/last only) is the row's position among the non-null values of its group.
    """
    if how not in AGGREGATES:
        raise NotImplementedError(f"aggregate {how!r}; use .value first")
    fam = family(col.spec)
    expr = col.expr
    if how in ("count", "size", "nunique"):
        out = {
            "count": sa.func.count(expr),
            "size": sa.func.count(),
            "nunique": sa.func.count(sa.distinct(expr)),
        }[how]
        return Column(col.label, spec_for("int64", native), out)
    if how in _ORDERED:
        if fam in ("category", "object"):
            raise NotImplementedError(f"{how} of {col.spec['dtype']} column {col.label!r}")
        out = _ordered(expr, how, fam, native, rank)
        dtype = col.spec["dtype"]
        if fam in ("number", "bool") and dtype[0] in "iub" and dtype != "boolean":
            # an empty input gives NULL: pandas then returns NaN (float) or object
            spec = spec_for(
                "float64", native, int_if_complete=dtype, object_if_missing=fam == "bool"
            )
            return Column(col.label, spec, _as_double(out) if fam == "bool" else out)
        return Column(col.label, col.spec, out)
    if fam not in ("number", "bool"):
        raise NotImplementedError(
            f"{how} of {col.spec['dtype']} column {col.label!r}; use .value first"
        )
    spec = spec_for(_result_dtype(col, how), native)
    number = sa.cast(expr, sa.Integer if fam == "bool" else sa.Double)
    if how == "sum":
        total = sa.func.sum(sa.cast(expr, sa.Integer) if fam == "bool" else expr)
        if spec["sql"] in ("int64", "int32", "int16"):
            total = sa.cast(total, sa.BigInteger)
        return Column(col.label, spec, sa.func.coalesce(total, 0))
    if how == "mean":
        return Column(col.label, spec, sa.func.avg(sa.cast(expr, sa.Double)))
    if how == "median":
        if native:
            out = sa.func.percentile_cont(0.5).within_group(number)
        else:
            out = sa.func.om_median(number)
        return Column(col.label, spec, sa.cast(out, sa.Double))
    fn = {"std": "stddev_samp", "var": "var_samp"}[how] if native else f"om_{how}"
    return Column(col.label, spec, sa.cast(getattr(sa.func, fn)(number), sa.Double))


def _as_double(expr: Any) -> Any:
    """Booleans as 0.0/1.0 (PostgreSQL casts bool only to integer)."""
    return sa.cast(sa.cast(expr, sa.Integer), sa.Double)


def _ordered(expr: Any, how: str, fam: str, native: bool, rank: Any) -> Any:
    if how in ("first", "last"):
        expr = sa.case((sa.and_(rank == 1, expr.is_not(None)), expr))
        how = "max"
    if fam == "bool" and native:
        return sa.func.bool_and(expr) if how == "min" else sa.func.bool_or(expr)
    if fam == "text" and native:
        expr = expr.collate("C")
    return getattr(sa.func, how)(expr)


def _result_dtype(col: Column, how: str) -> Any:
    """What pandas' groupby returns for ``how`` over this dtype (asked of pandas itself)."""
    base = proto(col)
    value = True if base.dtype.kind == "b" or str(base.dtype) == "boolean" else 1
    sample = pd.DataFrame({"k": [0, 0], "v": pd.Series([value, value], dtype=base.dtype)})
    return getattr(sample.groupby("k")["v"], how)().dtype


# -- SQLite aggregates --------------------------------------------------------------------
class _Moments:
    """Welford's running variance: one pass, numerically stable."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def step(self, value: float | None) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    def variance(self) -> float | None:
        return self.m2 / (self.n - 1) if self.n > 1 else None


class _Var(_Moments):
    def finalize(self) -> float | None:
        return self.variance()


class _Std(_Moments):
    def finalize(self) -> float | None:
        var = self.variance()
        return None if var is None else math.sqrt(var)


class _Median:
    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return float(np.median(self.values)) if self.values else None


class _Quantile:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.q = 0.5

    def step(self, value: float | None, q: float) -> None:
        self.q = q
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return float(np.quantile(self.values, self.q)) if self.values else None


def quantile(number: Any, q: float, native: bool) -> Any:
    """The ``q`` quantile with linear interpolation (as pandas and ``percentile_cont``)."""
    if native:
        return sa.cast(sa.func.percentile_cont(q).within_group(number), sa.Double)
    return sa.func.om_quantile(number, q)


def register_sqlite_aggregates(engine: sa.Engine) -> None:
    """Make ``om_var``, ``om_std`` and ``om_median`` available on the engine's connections."""
    if engine in _registered or engine.dialect.name != "sqlite":
        return
    _registered.add(engine)

    def _install(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.create_aggregate("om_var", 1, _Var)
        dbapi_conn.create_aggregate("om_std", 1, _Std)
        dbapi_conn.create_aggregate("om_median", 1, _Median)
        dbapi_conn.create_aggregate("om_quantile", 2, _Quantile)

    event.listen(engine, "checkout", _install)
