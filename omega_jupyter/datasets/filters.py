"""``col__op=value`` filters compiled to SQLAlchemy expressions with bound values.

Results follow pandas: ``get(name, x__ne=v)`` equals ``df[df.x != v]`` (missing values are
kept by ``ne`` and ``nin``), ordered categories compare in category order, text compares and
matches by code point and case-sensitively on every database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from omega_jupyter.datasets.frame_codec import from_json_values
from omega_jupyter.exceptions import InvalidFilterError, UnknownColumnError

OPERATORS = (
    *("eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "between", "isnull"),
    *("contains", "startswith", "endswith"),
)


def split_filter(key: str) -> tuple[str, str]:
    """``"price__gte"`` -> ("price", "gte"); a bare column name means ``eq``."""
    column, sep, op = key.rpartition("__")
    if not sep or op not in OPERATORS:
        return key, "eq"
    return column, op


def compile_filters(
    filters: Mapping[str, Any], table: sa.Table, specs_by_name: Mapping[Any, dict]
) -> list[sa.ColumnElement[bool]]:
    """Turn filters into WHERE clauses. Column names are checked against the dataset's specs."""
    clauses = []
    for key, value in filters.items():
        label, op = split_filter(key)
        spec = specs_by_name.get(label)
        if spec is None:
            known = ", ".join(repr(k) for k in specs_by_name)
            raise UnknownColumnError(f"cannot filter on unknown column {label!r}; columns: {known}")
        clauses.append(_clause(table.c[spec["phys"]], op, value, spec, key))
    return clauses


def _clause(col: sa.ColumnElement, op: str, value: Any, spec: dict, key: str) -> Any:
    if spec.get("json"):
        raise InvalidFilterError(
            f"{key}: column {spec['name']!r} holds mixed objects; not filterable"
        )
    if op == "isnull":
        if not isinstance(value, bool | np.bool_):
            raise InvalidFilterError(f"{key}: expects True or False, got {value!r}")
        return col.is_(None) if value else col.is_not(None)
    if op in ("contains", "startswith", "endswith"):
        if spec["sql"] != "text" or not isinstance(value, str):
            raise InvalidFilterError(f"{key}: {op} needs a text column and a string value")
        if not value:  # every string contains, starts and ends with ""
            return col.is_not(None)
        return _TEXT_MATCH[op](col, sa.literal(value, sa.Text()))
    if op in ("in", "nin"):
        if isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
            raise InvalidFilterError(f"{key}: expects a list of values, got {value!r}")
        encoded = [encode_scalar(spec, v, key) for v in value]
        present = [v for v in encoded if v is not None]
        with_missing = len(present) < len(encoded)
        if op == "in":
            return sa.or_(col.in_(present), col.is_(None)) if with_missing else col.in_(present)
        return (
            sa.and_(col.not_in(present), col.is_not(None))
            if with_missing
            else sa.or_(col.not_in(present), col.is_(None))
        )
    if op == "between":
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
            raise InvalidFilterError(f"{key}: expects two values (low, high), got {value!r}")
        if _ordered_category(spec):
            return sa.and_(_category_order(col, "gte", value[0], spec, key),
                           _category_order(col, "lte", value[1], spec, key))  # fmt: skip
        low, high = (encode_scalar(spec, v, key) for v in value)
        if low is None or high is None:
            raise InvalidFilterError(f"{key}: cannot compare with a missing value")
        return _ordering(col, spec).between(low, high)
    if op in ("lt", "lte", "gt", "gte") and _ordered_category(spec):
        return _category_order(col, op, value, spec, key)
    encoded = encode_scalar(spec, value, key)
    if encoded is None:
        if op == "eq":
            return col.is_(None)
        if op == "ne":
            return col.is_not(None)
        raise InvalidFilterError(f"{key}: cannot compare with None")
    if op == "eq":
        return col == encoded
    if op == "ne":  # pandas: a missing value is "not equal"
        return sa.or_(col != encoded, col.is_(None))
    compare = {"lt": "__lt__", "lte": "__le__", "gt": "__gt__", "gte": "__ge__"}[op]
    return getattr(_ordering(col, spec), compare)(encoded)


def _ordered_category(spec: dict) -> bool:
    return bool(spec.get("category", {}).get("ordered"))


def _category_order(col: sa.ColumnElement, op: str, value: Any, spec: dict, key: str) -> Any:
    """An ordered categorical compared like pandas: by position in the categories."""
    categories = from_json_values(spec["category"]["values"])
    matches = np.flatnonzero(categories == value) if value is not None else []
    if len(matches) != 1:
        raise InvalidFilterError(
            f"{key}: {value!r} is not a category of the ordered column {spec['name']!r}"
        )
    position = int(matches[0])
    keep = {
        "lt": lambda i: i < position,
        "lte": lambda i: i <= position,
        "gt": lambda i: i > position,
        "gte": lambda i: i >= position,
    }[op]
    chosen = [encode_scalar(spec, categories[i], key) for i in range(len(categories)) if keep(i)]
    return col.in_(chosen)


def _ordering(col: sa.ColumnElement, spec: dict) -> Any:
    """``col`` as compared by ``<``: text by code point, like Python, on every database."""
    inner = spec.get("category", {}).get("inner", spec)
    return _code_point(col) if inner["sql"] == "text" else col


# -- dialect-specific text operations ----------------------------------------------------------
# SQLite's LIKE ignores ASCII case and PostgreSQL's ``<`` follows the database's collation;
# these constructs give Python's semantics on both.
class _code_point(FunctionElement):
    type = sa.Text()
    name = "code_point"
    inherit_cache = True


class _contains(FunctionElement):
    type = sa.Boolean()
    name = "contains"
    inherit_cache = True


class _startswith(FunctionElement):
    type = sa.Boolean()
    name = "startswith"
    inherit_cache = True


class _endswith(FunctionElement):
    type = sa.Boolean()
    name = "endswith"
    inherit_cache = True


_TEXT_MATCH = {"contains": _contains, "startswith": _startswith, "endswith": _endswith}


def _args(element: FunctionElement) -> list[Any]:
    return list(element.clauses.clauses)


@compiles(_code_point)
def _code_point_default(element: FunctionElement, compiler: Any, **kw: Any) -> str:
    return compiler.process(_args(element)[0], **kw)


@compiles(_code_point, "postgresql")
def _code_point_postgresql(element: FunctionElement, compiler: Any, **kw: Any) -> str:
    return compiler.process(_args(element)[0].collate("C"), **kw)


@compiles(_contains)
def _contains_default(element: FunctionElement, compiler: Any, **kw: Any) -> str:
    col, value = _args(element)
    return compiler.process(sa.func.strpos(col, value) > 0, **kw)


@compiles(_contains, "sqlite")
def _contains_sqlite(element: FunctionElement, compiler: Any, **kw: Any) -> str:
    col, value = _args(element)
    return compiler.process(sa.func.instr(col, value) > 0, **kw)


@compiles(_startswith)
def _startswith_any(element: FunctionElement, compiler: Any, **kw: Any) -> str:
    col, value = _args(element)
    return compiler.process(sa.func.substr(col, 1, sa.func.length(value)) == value, **kw)


@compiles(_endswith)
def _endswith_default(element: FunctionElement, compiler: Any, **kw: Any) -> str:
    col, value = _args(element)
    return compiler.process(sa.func.right(col, sa.func.length(value)) == value, **kw)


@compiles(_endswith, "sqlite")
def _endswith_sqlite(element: FunctionElement, compiler: Any, **kw: Any) -> str:
    col, value = _args(element)
    return compiler.process(sa.func.substr(col, -sa.func.length(value)) == value, **kw)


def encode_scalar(spec: dict, value: Any, key: str = "") -> Any:
    """A Python value as it is stored in the spec's column (what a bound parameter must be)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if "category" in spec:
        return encode_scalar(spec["category"]["inner"] | {"name": spec.get("name")}, value, key)
    sql = spec["sql"]
    try:
        if "unit" in spec:
            # ``.value`` is always in nanoseconds; the column counts in its own unit.
            if spec["dtype"].startswith("timedelta"):
                return int(pd.Timedelta(value).as_unit(spec["unit"]).asm8.view("i8"))
            stamp = pd.Timestamp(value)
            if "tz" in spec:
                stamp = (
                    stamp.tz_localize(spec["tz"]) if stamp.tzinfo is None else stamp
                ).tz_convert("UTC")
            elif stamp.tzinfo is not None:
                raise InvalidFilterError(f"{key}: column is naive, value {value!r} has a timezone")
            if sql == "int64":
                return int(stamp.tz_localize(None).as_unit(spec["unit"]).asm8.view("i8"))
            if sql == "timestamptz":
                return stamp.to_pydatetime()
            return stamp.to_pydatetime().replace(tzinfo=None)
        if isinstance(value, np.generic):
            value = value.item()
        if sql == "text":
            if not isinstance(value, str):
                raise InvalidFilterError(f"{key}: column is text, value {value!r} is not")
            return value
        if sql == "bool":
            if not isinstance(value, bool):
                raise InvalidFilterError(f"{key}: column is boolean, value {value!r} is not")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFilterError(f"{key}: column is numeric, value {value!r} is not a number")
        if spec["dtype"] in ("uint64", "UInt64") and isinstance(value, int) and value >= 2**63:
            return value - 2**64  # stored as the int64 bit pattern
        return value
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidFilterError(f"{key}: value {value!r} does not fit the column: {exc}") from exc
