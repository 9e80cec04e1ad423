"""``merge`` of two lazy frames of the same store: one SQL JOIN, pandas' column rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from omega_jupyter.datasets.lazy import expressions as ex
from omega_jupyter.datasets.lazy.plan import Column, IndexLayout, Plan, spec_for
from omega_jupyter.datasets.lazy.series import unsupported
from omega_jupyter.exceptions import InvalidFilterError

if TYPE_CHECKING:
    from omega_jupyter.datasets.lazy.frame import LazyFrame

HOWS = ("inner", "left", "right", "outer")


def merge(
    left: LazyFrame,
    right: LazyFrame,
    on: Any = None,
    left_on: Any = None,
    right_on: Any = None,
    how: str = "inner",
    suffixes: tuple[str, str] = ("_x", "_y"),
) -> LazyFrame:
    """Join ``left`` and ``right`` on key columns; the result has a fresh RangeIndex.

    Row order follows pandas: left rows in order (inner, left), right rows (right), sorted
    keys (outer). Unlike pandas, missing keys never match each other (SQL equality).
    """
    from omega_jupyter.datasets.lazy.frame import LazyFrame  # cycle: frame imports this module

    lp, rp = left._plan, right._plan
    if lp.store.db is not rp.store.db or lp.store.bucket != rp.store.bucket:
        raise InvalidFilterError(
            "merge needs two datasets of the same store and bucket; fetch one with .value "
            "and put it into the other's store first"
        )
    if how not in HOWS:
        raise ValueError(f"how must be one of {', '.join(HOWS)}, not {how!r}")
    lkeys, rkeys = _keys(lp, rp, on, left_on, right_on)
    L, _ = lp.wrap()
    R, _ = rp.wrap()
    lcols = [L.find(k) for k in lkeys]
    rcols = [R.find(k) for k in rkeys]
    for a, b in zip(lcols, rcols, strict=True):
        if ex.family(a.spec) != ex.family(b.spec):
            raise InvalidFilterError(
                f"cannot merge {a.label!r} ({a.spec['dtype']}) with {b.label!r} ({b.spec['dtype']})"
            )
    cond = sa.and_(*(a.expr == b.expr for a, b in zip(lcols, rcols, strict=True)))
    if how == "right":
        joined = sa.join(R.base, L.base, cond, isouter=True)
    else:
        joined = sa.join(L.base, R.base, cond, isouter=how != "inner", full=how == "outer")
    columns = _output_columns(L, R, lkeys, rkeys, how, suffixes)
    if how == "right":
        order = [R.row, L.row]
    elif how == "outer":
        order = [*(_coalesce(a.expr, b.expr) for a, b in zip(lcols, rcols, strict=True))]
        order = [*(o.asc().nulls_last() for o in order), L.row, R.row]
    else:
        order = [L.row, R.row]
    row = sa.func.row_number().over(order_by=order) - 1
    query = sa.select(
        row.label("_om_row"), *(c.expr.label(f"m{i}") for i, c in enumerate(columns))
    ).select_from(joined)
    sub = query.subquery()
    plan = Plan(
        store=lp.store,
        base=sub,
        columns=(),
        index=IndexLayout("fresh"),
        row=sub.c["_om_row"],
        columns_meta=dict(lp.columns_meta),
    )
    out = [Column(c.label, c.spec, sub.c[f"m{i}"]) for i, c in enumerate(columns)]
    return LazyFrame(plan.with_columns(out))


def _keys(lp: Plan, rp: Plan, on: Any, left_on: Any, right_on: Any) -> tuple[list, list]:
    def as_list(v: Any) -> list:
        return list(v) if isinstance(v, list | tuple) else [v]

    if on is not None:
        if left_on is not None or right_on is not None:
            raise ValueError("pass either on= or left_on=/right_on=, not both")
        keys = as_list(on)
        for k in keys:
            lp.find(k), rp.find(k)
        return keys, keys
    if left_on is not None or right_on is not None:
        if left_on is None or right_on is None:
            raise ValueError("left_on= and right_on= go together")
        lk, rk = as_list(left_on), as_list(right_on)
        if len(lk) != len(rk):
            raise ValueError("left_on and right_on must have the same length")
        for k in lk:
            lp.find(k)
        for k in rk:
            rp.find(k)
        return lk, rk
    common = [c for c in lp.labels() if c in rp.labels()]
    if not common:
        raise InvalidFilterError("no common columns to merge on; pass on= or left_on/right_on")
    return common, common


def _output_columns(
    L: Plan, R: Plan, lkeys: list, rkeys: list, how: str, suffixes: tuple[str, str]
) -> list[Column]:
    shared = {k for k, r in zip(lkeys, rkeys, strict=True) if k == r}
    lmissing = how in ("right", "outer")
    rmissing = how in ("left", "outer")
    right_labels = [c.label for c in R.columns if c.label not in shared]
    left_labels = [c.label for c in L.columns]
    out = []
    for col in L.columns:
        if col.label in shared:
            other = R.find(col.label)
            expr = {"inner": col.expr, "left": col.expr, "right": other.expr}.get(
                how, _coalesce(col.expr, other.expr)
            )
            out.append(Column(col.label, col.spec, expr))
            continue
        label = col.label
        if label in right_labels:
            label = f"{label}{suffixes[0]}"
        out.append(_nullable(Column(label, col.spec, col.expr), lmissing, L.is_postgres))
    for col in R.columns:
        if col.label in shared:
            continue
        label = col.label
        if label in left_labels:
            label = f"{label}{suffixes[1]}"
        out.append(_nullable(Column(label, col.spec, col.expr), rmissing, R.is_postgres))
    return out


def _coalesce(a: Any, b: Any) -> Any:
    return sa.func.coalesce(a, b)


def _nullable(col: Column, missing: bool, native: bool) -> Column:
    """Columns of the side that may lack a match: pandas turns int into float, bool into
    object — only when a row is actually missing, so the final dtype is settled on fetch."""
    if not missing or ex.is_masked(col.spec):
        return col
    dtype = col.spec["dtype"]
    if col.spec["sql"] == "bool" and "category" not in col.spec:
        spec = spec_for("float64", native, int_if_complete=dtype, object_if_missing=True)
        return Column(col.label, spec, sa.cast(sa.cast(col.expr, sa.Integer), sa.Double))
    if ex.family(col.spec) == "number" and dtype[0] in "iu":
        return Column(col.label, spec_for("float64", native, int_if_complete=dtype), col.expr)
    if ex.family(col.spec) in ("category", "object", "timedelta"):
        raise unsupported(f"merge that may leave {dtype} column {col.label!r} missing")
    return col
