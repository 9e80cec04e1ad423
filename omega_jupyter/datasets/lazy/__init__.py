"""Lazy datasets: pandas-like frames whose operations run in the database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omega_jupyter.datasets.backends import select_columns
from omega_jupyter.datasets.lazy.frame import LazyFrame
from omega_jupyter.datasets.lazy.groupby import LazyGroupBy
from omega_jupyter.datasets.lazy.plan import Column, source_plan
from omega_jupyter.datasets.lazy.series import LazySeries
from omega_jupyter.exceptions import UnsupportedObjectError

if TYPE_CHECKING:
    from omega_jupyter.datasets.store import DatasetStore


def open_lazy(store: DatasetStore, name: str, version: int | None = None) -> Any:
    """A :class:`LazyFrame` (or :class:`LazySeries` for a stored Series) over ``name``."""
    ref = store.reference(name, version)
    meta = store.meta.resolve(ref)
    if meta.kind not in ("pandas.dataframe", "pandas.series"):
        raise UnsupportedObjectError(
            f"dataset {ref.name!r} is a {meta.kind}; only DataFrames and Series can be lazy"
        )
    columns = select_columns(meta.kind_meta["columns"], ref, None)
    frame = LazyFrame(source_plan(store, meta, columns))
    if meta.kind == "pandas.series":
        col = frame._plan.columns[0]
        return LazySeries(
            frame._plan, Column(meta.kind_meta.get("series_name"), col.spec, col.expr)
        )
    return frame


__all__ = ["LazyFrame", "LazyGroupBy", "LazySeries", "open_lazy"]
