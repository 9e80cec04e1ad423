"""Column expressions with pandas semantics: comparisons, boolean logic, arithmetic and the
``str``/``dt`` accessors, each compiled per dialect and per storage kind.

Result dtypes and names are taken from pandas itself, applied to empty series of the operands'
dtypes, so they follow pandas' promotion rules by construction.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from omega_jupyter.datasets.filters import encode_scalar
from omega_jupyter.datasets.lazy.plan import Column, dtype_of, spec_for
from omega_jupyter.exceptions import InvalidFilterError
from omega_jupyter.storage.bulk import SQL_TYPES

COMPARE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
ARITH = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv}
_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def proto(col: Column) -> pd.Series:
    """An empty pandas Series with the column's dtype and name."""
    dtype = dtype_of(col.spec)
    if "category" in col.spec:
        dtype = pd.CategoricalDtype(ordered=col.spec["category"]["ordered"])
    return pd.Series([], dtype=dtype, name=col.label)


def is_masked(spec: dict) -> bool:
    """True for pandas' NA-aware dtypes (Int64, boolean, string[NA]…): SQL NULL logic applies."""
    return getattr(dtype_of(spec), "na_value", None) is pd.NA


def family(spec: dict) -> str:
    if spec.get("json"):
        return "object"
    if "category" in spec:
        return "category"
    if "unit" in spec:
        return "timedelta" if spec["dtype"].startswith("timedelta") else "datetime"
    if spec["sql"] == "text":
        return "text"
    if spec["sql"] == "bool":
        return "bool"
    return "number"


def boolean_result(expr: Any, spec: dict, when_null: bool) -> tuple[Any, dict]:
    """A boolean column: NA-aware dtypes keep SQL NULL; numpy dtypes turn NULL into a value."""
    if spec["dtype"] == "boolean":
        return expr, spec
    return sa.func.coalesce(expr, sa.true() if when_null else sa.false()), spec


def compare(left: Column, right: Any, op: str, native: bool) -> Column:
    """``left <op> right`` where right is a Column or a scalar."""
    fn = COMPARE[op]
    fam = family(left.spec)
    if fam == "object":
        raise InvalidFilterError(f"column {left.label!r} holds mixed objects; not comparable")
    if isinstance(right, Column):
        if family(right.spec) != fam or _storage_key(left.spec) != _storage_key(right.spec):
            raise InvalidFilterError(
                f"cannot compare column {left.label!r} ({left.spec['dtype']}) with "
                f"column {right.label!r} ({right.spec['dtype']})"
            )
        result = fn(proto(left), proto(right))
        other = right.expr
    else:
        if fam == "category" and op not in ("eq", "ne"):
            raise NotImplementedError(
                f"ordering comparison on categorical column {left.label!r}; use .value first"
            )
        value = encode_scalar(left.spec, right, str(left.label))
        result = _safe_compare(fn, proto(left), right)
        if value is None:  # pandas: comparisons with a missing value are False (!= True)
            expr = sa.true() if op == "ne" else sa.false()
            return Column(result.name, _bool_spec(result, native), expr)
        other = sa.literal(value, type_=SQL_TYPES[_inner(left.spec)["sql"]])
    lhs, rhs = left.expr, other
    if fam == "text" and native and op not in ("eq", "ne"):
        lhs, rhs = lhs.collate("C"), rhs.collate("C")  # code-point order, like Python
    test = fn(lhs, rhs)
    expr, spec = boolean_result(test, _bool_spec(result, native), op == "ne")
    return Column(result.name, spec, expr, where=test if op != "ne" else None)


def _safe_compare(fn: Any, series: pd.Series, value: Any) -> pd.Series:
    try:
        return fn(series, value)
    except (TypeError, ValueError):
        dtype = "boolean" if getattr(series.dtype, "na_value", None) is pd.NA else bool
        return pd.Series([], dtype=dtype, name=series.name)


def _inner(spec: dict) -> dict:
    return spec["category"]["inner"] if "category" in spec else spec


def _storage_key(spec: dict) -> tuple:
    inner = _inner(spec)
    if family(spec) == "number":
        return ("number",)
    return (inner["sql"], inner.get("unit"), inner.get("epoch"), inner.get("tz") is not None)


def _bool_spec(result: pd.Series, native: bool) -> dict:
    return spec_for(result.dtype, native)


def logical(left: Column, right: Column | None, op: str, native: bool) -> Column:
    """``&``, ``|`` and ``~`` on boolean columns (Kleene logic for NA-aware ones, as pandas)."""
    for col in (left, right):
        if col is not None and family(col.spec) != "bool":
            raise TypeError(f"{op}: column {col.label!r} is {col.spec['dtype']}, not boolean")
    if right is None:
        result = ~proto(left)
        return Column(result.name, spec_for(result.dtype, native), sa.not_(left.expr))
    fn = operator.and_ if op == "and" else operator.or_
    result = fn(proto(left), proto(right))
    combine = sa.and_ if op == "and" else sa.or_
    expr = combine(left.expr, right.expr)
    # for WHERE, NULL and FALSE act alike under AND/OR, so the plain tests can be combined
    where = (
        combine(left.where, right.where)
        if left.where is not None and right.where is not None
        else None
    )
    return Column(result.name, spec_for(result.dtype, native), expr, where=where)


def arithmetic(left: Column, right: Any, op: str, native: bool, reflected: bool = False) -> Column:
    """``left <op> right`` for numeric columns and scalars."""
    if family(left.spec) != "number":
        raise NotImplementedError(
            f"arithmetic {op} on {left.spec['dtype']} column {left.label!r}; use .value first"
        )
    if isinstance(right, Column):
        if family(right.spec) != "number":
            raise NotImplementedError(
                f"arithmetic {op} on {right.spec['dtype']} column {right.label!r}; use .value first"
            )
        other_proto, other = proto(right), right.expr
    else:
        if isinstance(right, bool | np.bool_) or not isinstance(right, int | float | np.number):
            raise InvalidFilterError(f"{op}: {right!r} is not a number")
        value = right.item() if isinstance(right, np.generic) else right
        other_proto = value
        other = sa.literal(
            value, type_=sa.Double() if isinstance(value, float) else sa.BigInteger()
        )
    a, b = (other, left.expr) if reflected else (left.expr, other)
    pa_, pb = (other_proto, proto(left)) if reflected else (proto(left), other_proto)
    result = ARITH[op](pa_, pb)
    if op == "truediv":
        expr = sa.cast(a, sa.Double()) / sa.func.nullif(sa.cast(b, sa.Double()), 0.0)
    else:
        expr = ARITH[op](a, b)
    name = result.name if isinstance(result, pd.Series) else left.label
    return Column(name, spec_for(result.dtype, native), expr)


def negate(col: Column, native: bool) -> Column:
    if family(col.spec) != "number":
        raise NotImplementedError(f"negation of {col.spec['dtype']} column {col.label!r}")
    return Column(col.label, col.spec, -col.expr)


def isin(col: Column, values: Any, native: bool) -> Column:
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise InvalidFilterError(f"isin on {col.label!r} expects a list of values, got {values!r}")
    values = list(values)
    encoded = [encode_scalar(col.spec, v, str(col.label)) for v in values]
    present = [v for v in encoded if v is not None]
    expr = col.expr.in_(present) if present else sa.false()
    if len(present) < len(encoded):
        expr = sa.or_(expr, col.expr.is_(None))
    spec = spec_for(proto(col).isin(values).dtype, native)
    return Column(col.label, spec, sa.func.coalesce(expr, sa.false()), where=expr)


def isnull(col: Column, native: bool, negate: bool = False) -> Column:
    expr = col.expr.is_not(None) if negate else col.expr.is_(None)
    return Column(col.label, spec_for(np.dtype(bool), native), expr)


def literal_column(label: Any, value: Any, native: bool) -> Column:
    """A constant column (``assign(flag=1)``)."""
    series = pd.Series([value])
    spec = spec_for(series.dtype, native)
    encoded = encode_scalar(dict(spec, name=label), value, str(label))
    return Column(label, spec, sa.literal(encoded, type_=SQL_TYPES[spec["sql"]]))


# -- str accessor -------------------------------------------------------------------------
_REGEX_CHARS = set(".^$*+?{}[]\\|()")


def string_op(col: Column, how: str, native: bool, *args: Any, **kwargs: Any) -> Column:
    """``col.str.<how>(…)`` on a text column."""
    if family(col.spec) != "text":
        raise NotImplementedError(
            f".str.{how} on {col.spec['dtype']} column {col.label!r}; use .value first"
        )
    expr = col.expr
    if how in ("lower", "upper"):
        return Column(col.label, col.spec, getattr(sa.func, how)(expr))
    if how == "len":
        length = sa.cast(sa.func.length(expr), sa.Double())
        if is_masked(col.spec):
            return Column(col.label, spec_for("Int64", native), sa.func.length(expr))
        return Column(col.label, spec_for("float64", native, int_if_complete="int64"), length)
    pattern = args[0] if args else kwargs.pop("pat", None)
    if not isinstance(pattern, str):
        raise InvalidFilterError(f".str.{how} on {col.label!r} needs a string pattern")
    if not kwargs.pop("case", True):
        expr, pattern = sa.func.lower(expr), pattern.lower()
    regex = kwargs.pop("regex", True) if how == "contains" else False
    if kwargs:
        raise NotImplementedError(f".str.{how} with {sorted(kwargs)}; use .value first")
    pat = sa.literal(pattern, type_=sa.Text())
    if how == "contains" and regex and _REGEX_CHARS & set(pattern):
        if not native:
            raise NotImplementedError(
                ".str.contains with a regular expression on SQLite; pass regex=False or use .value"
            )
        test = expr.regexp_match(pat)
    elif how == "contains":
        test = (sa.func.strpos(expr, pat) if native else sa.func.instr(expr, pat)) > 0
    elif how == "startswith":
        test = sa.func.substr(expr, 1, len(pattern)) == pat
    elif how == "endswith":
        tail = sa.func.right(expr, len(pattern)) if native else sa.func.substr(expr, -len(pattern))
        test = tail == pat if pattern else sa.true()
    else:
        raise NotImplementedError(f".str.{how}; use .value first")
    dtype = "boolean" if is_masked(col.spec) else bool
    result, spec = boolean_result(test, spec_for(dtype, native), False)
    return Column(col.label, spec, result)


# -- dt accessor --------------------------------------------------------------------------
_PG_FIELDS = {"year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute"}
_SQLITE_FIELDS = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M"}
_SQLITE_FIELDS |= {"second": "%S", "dayofweek": "%w"}


def datetime_part(col: Column, part: str, native: bool) -> Column:
    """``col.dt.<part>`` (year month day hour minute second dayofweek) as pandas computes it."""
    part = {"day_of_week": "dayofweek", "weekday": "dayofweek"}.get(part, part)
    if family(col.spec) != "datetime":
        raise NotImplementedError(f".dt.{part} on {col.spec['dtype']} column {col.label!r}")
    if part not in _SQLITE_FIELDS:
        raise NotImplementedError(f".dt.{part}; use .value first")
    spec = col.spec
    tz = spec.get("tz")
    expr = col.expr
    if native:
        if spec["sql"] == "int64":  # nanosecond values kept as integers since the epoch
            expr = sa.func.to_timestamp(_floor_seconds(expr, spec["unit"]))
            expr = sa.func.timezone(tz or "UTC", expr)
        elif tz:
            expr = sa.func.timezone(tz, expr)
        if part == "dayofweek":
            value = sa.extract("isodow", expr) - 1
        elif part == "second":
            value = sa.func.floor(sa.extract("second", expr))
        else:
            value = sa.extract(_PG_FIELDS[part], expr)
    else:
        if tz not in (None, "UTC"):
            raise NotImplementedError(
                f".dt.{part} on a column in time zone {tz} needs PostgreSQL; use .value first"
            )
        seconds = _floor_seconds(expr, spec["unit"])
        value = sa.cast(sa.func.strftime(_SQLITE_FIELDS[part], seconds, "unixepoch"), sa.Integer)
        if part == "dayofweek":
            value = (value + 6) % 7  # SQLite counts from Sunday, pandas from Monday
    spec_out = spec_for("float64", native, int_if_complete="int32")
    return Column(col.label, spec_out, sa.cast(value, sa.Double()))


def _floor_seconds(expr: Any, unit: str) -> Any:
    """Whole seconds since the epoch, rounded down (SQL integer division truncates)."""
    f = _UNITS_PER_SECOND[unit]
    if f == 1:
        return expr
    return (expr - ((expr % f) + f) % f) / f
