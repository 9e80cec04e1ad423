"""``col__op=value`` filters compiled to SQLAlchemy expressions with bound values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

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
        return getattr(col, op)(value, autoescape=True)
    if op in ("in", "nin"):
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            raise InvalidFilterError(f"{key}: expects a list of values, got {value!r}")
        values = [encode_scalar(spec, v, key) for v in value]
        return col.in_(values) if op == "in" else col.not_in(values)
    if op == "between":
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
            raise InvalidFilterError(f"{key}: expects two values (low, high), got {value!r}")
        low, high = (encode_scalar(spec, v, key) for v in value)
        return col.between(low, high)
    encoded = encode_scalar(spec, value, key)
    if encoded is None:
        if op == "eq":
            return col.is_(None)
        if op == "ne":
            return col.is_not(None)
        raise InvalidFilterError(f"{key}: cannot compare with None")
    return {
        "eq": col.__eq__,
        "ne": col.__ne__,
        "lt": col.__lt__,
        "lte": col.__le__,
        "gt": col.__gt__,
        "gte": col.__ge__,
    }[op](encoded)


def encode_scalar(spec: dict, value: Any, key: str = "") -> Any:
    """A Python value as it is stored in the spec's column (what a bound parameter must be)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if "category" in spec:
        return encode_scalar(spec["category"]["inner"] | {"name": spec["name"]}, value, key)
    sql = spec["sql"]
    try:
        if "unit" in spec:
            if spec["dtype"].startswith("timedelta"):
                return int(pd.Timedelta(value).as_unit(spec["unit"]).value)
            stamp = pd.Timestamp(value)
            if "tz" in spec:
                stamp = (
                    stamp.tz_localize(spec["tz"]) if stamp.tzinfo is None else stamp
                ).tz_convert("UTC")
            elif stamp.tzinfo is not None:
                raise InvalidFilterError(f"{key}: column is naive, value {value!r} has a timezone")
            if sql == "int64":
                return int(stamp.tz_localize(None).as_unit(spec["unit"]).value)
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
