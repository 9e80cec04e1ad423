"""Streamed CSV in and out: any size, bounded memory, atomic like ``put``.

``read_csv`` parses the source in chunks with pandas, fixes the dtypes on the first chunk,
bulk-loads every chunk into one new table and makes it visible with a single metadata commit.
A later chunk that does not fit the first chunk's dtypes stops the load with an error naming
the row; the half-loaded table is never visible.
"""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from omega_jupyter.datasets import frames
from omega_jupyter.exceptions import IngestError, SchemaMismatchError
from omega_jupyter.names import validate_name
from omega_jupyter.progress import Progress, track
from omega_jupyter.storage.bulk import new_table_name
from omega_jupyter.storage.metadata import Metadata

if TYPE_CHECKING:
    from omega_jupyter.datasets.store import DatasetStore

DEFAULT_CHUNK_ROWS = 100_000
_URL_TIMEOUT = 30


# -- sources --------------------------------------------------------------------------------
def open_source(source: Any) -> tuple[Any, str, bool]:
    """A binary (or text) stream over ``source``, a printable name, and whether we own it."""
    if isinstance(source, str | Path) and str(source).startswith(("http://", "https://")):
        url = str(source)
        try:
            raw: Any = urllib.request.urlopen(url, timeout=_URL_TIMEOUT)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise IngestError(f"cannot read {url}: {reason}; nothing was stored") from exc
        name = url
    elif isinstance(source, str | Path):
        path = Path(source).expanduser()
        if not path.is_file():
            raise IngestError(f"no such file: {path}; nothing was stored")
        raw, name = path.open("rb"), str(path)
    elif hasattr(source, "read"):
        return source, getattr(source, "name", type(source).__name__), False
    else:
        raise IngestError(f"read_csv takes a path, an http(s) URL or a file object, not {source!r}")
    if name.split("?")[0].endswith(".gz"):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    return raw, name, True


# -- reading --------------------------------------------------------------------------------
def read_csv(
    store: DatasetStore,
    source: Any,
    name: str,
    chunksize: int = DEFAULT_CHUNK_ROWS,
    append: bool = False,
    attributes: dict | None = None,
    progress: Progress | None = None,
    **pandas_kwargs: Any,
) -> Metadata:
    """Stream a CSV into dataset ``name`` (see :meth:`DatasetStore.read_csv`)."""
    validate_name(name)
    if int(chunksize) < 1:
        raise ValueError("chunksize must be >= 1")
    for key in ("chunksize", "iterator"):
        if key in pandas_kwargs:
            raise ValueError(f"{key} is chosen by read_csv itself")
    store.db.ensure_schema()
    stream, label, owned = open_source(source)
    try:
        reader = _chunks(stream, label, int(chunksize), pandas_kwargs)
        first = next(reader, None)
        if first is None:
            raise IngestError(f"{label} holds no header and no rows; nothing was stored")
        kind_meta = frames.describe_frame(first, native_timestamps=store.db.is_postgres)
        batches = _batches(first, reader, kind_meta, store.settings.chunk_rows, label)
        batches = track(batches, progress, None)
        return _load(store, name, kind_meta, batches, append, attributes)
    finally:
        if owned:
            stream.close()


def _chunks(stream: Any, label: str, chunksize: int, kwargs: dict) -> Iterator[pd.DataFrame]:
    """pandas' chunked reader, with its errors turned into ones naming the source."""
    try:
        reader = pd.read_csv(stream, chunksize=chunksize, **kwargs)
        with reader:
            yield from reader
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, IngestError | SchemaMismatchError):
            raise
        raise IngestError(f"{label}: {exc}; nothing was stored") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise IngestError(f"{label}: reading failed: {exc}; nothing was stored") from exc


def _batches(
    first: pd.DataFrame,
    rest: Iterator[pd.DataFrame],
    kind_meta: dict,
    batch_rows: int,
    label: str,
) -> Iterator[pa.RecordBatch]:
    dtypes = first.dtypes
    offset = 0
    for chunk in _chain(first, rest):
        chunk = _conform(chunk, dtypes, kind_meta, offset, label)
        yield from frames.encode_batches(chunk, kind_meta, batch_rows, row_offset=offset)
        offset += len(chunk)


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _conform(
    chunk: pd.DataFrame, dtypes: pd.Series, kind_meta: dict, offset: int, label: str
) -> pd.DataFrame:
    """Give a later chunk the first chunk's dtypes, or fail naming the first row that
    does not fit. Lossless changes only: all-missing columns, ints into floats."""
    if list(chunk.columns) != list(dtypes.index):
        raise IngestError(f"{label}: the columns changed after row {offset}; nothing was stored")
    for i, (col, want) in enumerate(dtypes.items()):
        have = chunk.dtypes.iloc[i]
        if have == want:
            continue
        values = chunk.iloc[:, i]
        if values.isna().all() or (want.kind == "f" and have.kind in "iu"):
            chunk.isetitem(i, values.astype(want))
            continue
        if want.kind in "iufb":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna() if want.kind == "f" else numbers.isna()
            if want.kind in "iu":
                bad |= numbers.notna() & (numbers != np.floor(numbers.fillna(0)))
        else:
            bad = values.notna() & values.map(lambda v: not isinstance(v, str))
        pos = int(np.argmax(bad.to_numpy())) if bad.any() else 0
        raise IngestError(
            f"{label}: row {offset + pos + 1} column {col!r} has value {values.iloc[pos]!r}, "
            f"which does not fit the dtype {want} inferred from the first chunk; pass "
            f"dtype={{{col!r}: ...}} (for example 'float64' or 'str'); nothing was stored"
        )
    return chunk


def _load(
    store: DatasetStore,
    name: str,
    kind_meta: dict,
    batches: Iterable[pa.RecordBatch],
    append: bool,
    attributes: dict | None,
) -> Metadata:
    from omega_jupyter.datasets.backends import FrameBackend

    current = store.meta.latest(name) if append else None
    table = FrameBackend._table(store, new_table_name(), kind_meta)
    rows = store.bulk.load_new(table, batches, frames.arrow_schema(kind_meta))
    kind_meta = dict(kind_meta, rows=rows)
    if current is None:
        return store.commit_table(
            name,
            "pandas.dataframe",
            table.name,
            kind_meta=kind_meta,
            attributes=attributes,
            size=rows * 8 * (len(kind_meta["columns"]) + 1),
        )
    try:
        return _append(store, current, table, kind_meta, attributes)
    except BaseException:
        with store.db.begin() as conn:
            store.bulk.drop(conn, table.name)
        raise


def _append(
    store: DatasetStore, current: Metadata, staging: sa.Table, kind_meta: dict, attrs: dict | None
) -> Metadata:
    """Move the staged rows behind the current version's in one transaction."""
    from omega_jupyter.datasets.backends import FrameBackend, _check_appendable

    _check_appendable(current, "pandas.dataframe", kind_meta)
    with store.db.begin() as conn:
        locked = store.meta.lock_latest(conn, current.name)
        if locked is None:
            raise SchemaMismatchError(f"dataset {current.name!r} was dropped meanwhile")
        _check_appendable(locked, "pandas.dataframe", kind_meta)
        offset = int(locked.kind_meta["rows"])
        target = FrameBackend._table(store, locked.location or "", locked.kind_meta)
        row = staging.c[frames.ROW_COLUMN] + offset
        source = sa.select(*(row if c.name == frames.ROW_COLUMN else c for c in staging.columns))
        conn.execute(target.insert().from_select([c.name for c in staging.columns], source))
        attributes = dict(locked.attributes) | (attrs or {})
        store.meta.update(
            conn,
            locked,
            kind_meta=dict(locked.kind_meta, rows=offset + kind_meta["rows"]),
            size=locked.size + kind_meta["rows"] * 8 * (len(kind_meta["columns"]) + 1),
            attributes=attributes,
        )
        store.bulk.drop(conn, staging.name)
        return locked


# -- writing --------------------------------------------------------------------------------
def write_csv(chunks: Iterable[pd.DataFrame], target: Any, **kwargs: Any) -> int:
    """Write frames to one CSV (header once; gzip when the path ends in ``.gz``)."""
    kwargs.setdefault("index", False)
    rows = 0
    if hasattr(target, "write"):
        handle, owned = target, False
    else:
        path = Path(target).expanduser()
        opener = gzip.open if path.suffix == ".gz" else open
        handle, owned = opener(path, "wt", newline="", encoding="utf-8"), True
    try:
        header = kwargs.pop("header", True)
        for chunk in chunks:
            chunk.to_csv(handle, header=header, **kwargs)
            header = False
            rows += len(chunk)
    finally:
        if owned:
            handle.close()
    return rows


__all__ = ["open_source", "read_csv", "write_csv"]
