"""What the REST resources do, on top of the stores: paging, listing, describing.

Plain functions on a client (no tornado): each handler verb parses its input, calls one of
these, and renders what it returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.params import column_specs, filter_values
from omega_jupyter.server.payloads import FRAME_KINDS
from omega_jupyter.storage.metadata import Metadata

MAX_PAGE = 1000


def page(items: list[Any], limit: int | None, offset: int) -> dict[str, Any]:
    """A list response: ``{"items", "total", "offset", "limit"}``."""
    limit = MAX_PAGE if limit is None else min(limit, MAX_PAGE)
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "offset": offset,
        "limit": limit,
    }


def summary(meta: Metadata) -> dict[str, Any]:
    """The short description of an object in list responses."""
    return {
        "name": meta.name,
        "kind": meta.kind,
        "version": meta.version,
        "modified": meta.modified.isoformat(),
        "size": meta.size,
        "rows": meta.kind_meta.get("rows"),
    }


def list_datasets(om: Omega, pattern: str | None, limit: int | None, offset: int) -> dict:
    _check_pattern(pattern)
    return page([summary(m) for m in om.datasets.list(pattern, raw=True)], limit, offset)


def dataset_metadata(om: Omega, name: str) -> dict[str, Any]:
    meta = om.datasets.metadata(name)
    data = meta.to_dict()
    data.pop("location", None)  # internal table name: never shown to clients
    data["columns"] = [
        {"name": s["name"], "dtype": s["dtype"]} for s in meta.kind_meta.get("columns", [])
    ]
    data["versions"] = om.datasets.versions(meta.name)["version"].tolist()
    return data


def dataset_profile(
    om: Omega, name: str, bins: int, top: int, exact: bool = False
) -> dict[str, Any]:
    """The profile of ``name`` as JSON, with each column's Vega-Lite chart (or None)."""
    profile = om.datasets.profile(name, bins=bins, top=top, exact=exact)
    data = profile.to_dict()
    for column, entry in zip(profile.columns, data["columns"], strict=True):
        entry["vega_lite"] = column.vega_lite()
    return data


def read_dataset(
    om: Omega,
    name: str,
    *,
    limit: int | None,
    offset: int,
    columns: list[str] | None,
    raw_filters: dict[str, str],
) -> tuple[Metadata, Any]:
    """The object stored as ``name``; for DataFrames, the rows ``offset:offset+limit`` that
    pass the filters (read in chunks, so a small page of a big table stays small)."""
    meta = om.datasets.metadata(name)
    if meta.kind not in FRAME_KINDS:
        if columns or raw_filters or limit is not None or offset:
            raise BadRequestError(
                f"{meta.name!r} is {meta.kind}: limit, offset, columns and filters apply to "
                "DataFrames only"
            )
        return meta, om.datasets.get(name)
    filters = filter_values(raw_filters, column_specs(meta.kind_meta))
    if limit is None and not offset:
        return meta, om.datasets.get(name, columns=columns, **filters)
    wanted = offset + (limit if limit is not None else int(meta.kind_meta.get("rows", 0)))
    chunksize = max(1, min(max(wanted, 1), 100_000))
    frames: list[pd.DataFrame] = []
    seen = 0
    chunks = om.datasets.get(name, columns=columns, chunksize=chunksize, **filters)
    try:
        for chunk in chunks:
            frames.append(chunk)
            seen += len(chunk)
            if seen >= wanted:
                break
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if not frames:  # no row passes the filters: an unchunked read is empty and typed
        return meta, om.datasets.get(name, columns=columns, **filters)
    rows = pd.concat(frames) if len(frames) > 1 else frames[0]
    stop = None if limit is None else offset + limit
    return meta, rows.iloc[offset:stop]


def plain(obj: Any) -> Any:
    """A stored non-frame object as JSON-ready data."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    read = getattr(obj, "read", None)
    if callable(read):
        data = read()
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return obj


def _check_pattern(pattern: str | None) -> None:
    if pattern is not None and len(pattern) > 255:
        raise BadRequestError("name patterns are at most 255 characters")
