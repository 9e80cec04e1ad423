"""The dataset backends: pandas frames and series as SQL tables; arrays, Python data and files
as chunked blobs."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.datasets import frames
from omega_jupyter.datasets.filters import compile_filters
from omega_jupyter.datasets.registry import BackendRegistry
from omega_jupyter.exceptions import (
    ConcurrentWriteError,
    InvalidFilterError,
    SchemaMismatchError,
    UnknownColumnError,
    UnsupportedObjectError,
)
from omega_jupyter.names import ObjectRef
from omega_jupyter.progress import Progress, track
from omega_jupyter.storage.bulk import new_table_name
from omega_jupyter.storage.metadata import Metadata

WRITE_RETRIES = 8
DROP_AFTER_COMMIT = "omega_drop_after_commit"  # see DatasetStore.transaction

if TYPE_CHECKING:
    from omega_jupyter.datasets.store import DatasetStore


# =============================================================================================
class FrameBackend:
    """DataFrames (and Series) as one SQL table per version, loaded in bulk."""

    kind = "pandas.dataframe"
    priority = 100

    def supports(self, obj: Any) -> bool:
        return isinstance(obj, pd.DataFrame)

    def to_frame(self, obj: Any) -> pd.DataFrame:
        if not isinstance(obj, pd.DataFrame):
            raise UnsupportedObjectError(f"kind {self.kind!r} takes a DataFrame")
        return obj

    def describe(self, store: DatasetStore, obj: Any, df: pd.DataFrame) -> dict:
        return frames.describe_frame(df, native_timestamps=store.db.is_postgres)

    # -- put ------------------------------------------------------------------------------
    def put(
        self,
        store: DatasetStore,
        obj: Any,
        name: str,
        append: bool,
        attributes: dict | None,
        progress: Progress | None = None,
    ) -> Metadata:
        df = self.to_frame(obj)
        kind_meta = self.describe(store, obj, df)
        if store.db.is_postgres:
            frames.check_nul_free(kind_meta)
        if append:
            current = store.meta.latest(name)
            if current is not None:
                return self._append(store, current, df, kind_meta, attributes, progress)
        table = self._table(store, new_table_name(), kind_meta)
        store.bulk.load_new(
            table, self._batches(store, df, kind_meta, progress), frames.arrow_schema(kind_meta)
        )
        return store.commit_table(
            name,
            self.kind,
            table.name,
            kind_meta=kind_meta,
            attributes=attributes,
            size=_frame_bytes(df),
        )

    def _append(
        self,
        store: DatasetStore,
        current: Metadata,
        df: pd.DataFrame,
        kind_meta: dict,
        attributes: dict | None,
        progress: Progress | None,
    ) -> Metadata:
        _check_appendable(current, self.kind, kind_meta)
        staging = self._table(store, new_table_name(), kind_meta)
        batches = self._batches(store, df, kind_meta, progress)
        store.bulk.load_new(staging, batches, frames.arrow_schema(kind_meta))
        try:
            with store.db.begin() as conn:
                locked = store.meta.lock_latest(conn, current.name)
                if locked is None:
                    raise SchemaMismatchError(f"dataset {current.name!r} was dropped meanwhile")
                _check_appendable(locked, self.kind, kind_meta)
                offset = int(locked.kind_meta["rows"])
                target = self._table(store, locked.location or "", locked.kind_meta)
                rows = staging.c[frames.ROW_COLUMN] + offset
                source = sa.select(
                    *(rows if c.name == frames.ROW_COLUMN else c for c in staging.columns)
                )
                conn.execute(target.insert().from_select([c.name for c in staging.columns], source))
                new_meta = dict(locked.kind_meta, rows=offset + len(df))
                attrs = dict(locked.attributes)
                if attributes == {}:
                    attrs = {}
                elif attributes:
                    attrs.update(attributes)
                store.meta.update(
                    conn,
                    locked,
                    kind_meta=new_meta,
                    size=locked.size + _frame_bytes(df),
                    attributes=attrs,
                )
                store.bulk.drop(conn, staging.name)
                return locked
        except BaseException:
            with store.db.begin() as conn:
                store.bulk.drop(conn, staging.name)
            raise

    @staticmethod
    def _batches(
        store: DatasetStore, df: pd.DataFrame, kind_meta: dict, progress: Progress | None
    ) -> Iterator[pa.RecordBatch]:
        batches = frames.encode_batches(df, kind_meta, store.settings.chunk_rows)
        if store.db.is_postgres:
            batches = frames.reject_nul_text(batches, kind_meta)
        return track(batches, progress, len(df))

    @staticmethod
    def _table(store: DatasetStore, name: str, kind_meta: dict) -> sa.Table:
        cols = [(frames.ROW_COLUMN, "int64")]
        cols += [(s["phys"], s["sql"]) for s in frames.stored_specs(kind_meta)]
        return store.bulk.table(name, cols)

    # -- get ------------------------------------------------------------------------------
    def get(
        self,
        store: DatasetStore,
        meta: Metadata,
        *,
        ref: ObjectRef,
        columns: list | None = None,
        chunksize: int | None = None,
        filters: dict | None = None,
        progress: Progress | None = None,
        **_: Any,
    ) -> Any:
        kind_meta = meta.kind_meta
        wanted = _select_columns(kind_meta["columns"], ref, columns)
        table = self._table(store, meta.location or "", kind_meta)
        index_specs = kind_meta["index"].get("levels", [])
        read_specs = [*index_specs, *wanted]
        query = sa.select(
            table.c[frames.ROW_COLUMN], *(table.c[s["phys"]] for s in read_specs)
        ).where(*compile_filters(filters or {}, table, _specs_by_name(kind_meta)))
        schema = pa.schema(
            [pa.field(frames.ROW_COLUMN, pa.int64())]
            + [pa.field(s["phys"], frames.SQL_ARROW[s["sql"]]) for s in read_specs]
        )
        if chunksize is not None:
            if int(chunksize) < 1:
                raise ValueError("chunksize must be >= 1")
            ordered = query.order_by(table.c[frames.ROW_COLUMN])
            chunks = self._chunks(store, ordered, schema, kind_meta, wanted, int(chunksize))
            return track(chunks, progress, None if filters else kind_meta["rows"])
        batches = track(store.bulk.read_batches(query, schema), progress, kind_meta["rows"])
        arrow = frames.order_by_row(pa.Table.from_batches(list(batches), schema=schema))
        return self.finish(frames.decode_table(arrow, kind_meta, wanted), kind_meta)

    def _chunks(
        self,
        store: DatasetStore,
        query: sa.Select,
        schema: pa.Schema,
        kind_meta: dict,
        wanted: list[dict],
        chunksize: int,
    ) -> Iterator[Any]:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in store.bulk.read_batches(query, schema, batch_rows=chunksize):
            pending.append(batch)
            rows += batch.num_rows
            while rows >= chunksize:
                table = pa.Table.from_batches(pending, schema=schema)
                head, rest = table.slice(0, chunksize), table.slice(chunksize)
                yield self.finish(frames.decode_table(head, kind_meta, wanted), kind_meta)
                pending, rows = rest.to_batches(), rest.num_rows
        if rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield self.finish(frames.decode_table(table, kind_meta, wanted), kind_meta)

    def finish(self, frame: pd.DataFrame, kind_meta: dict) -> Any:
        return frame

    def drop_physical(self, store: DatasetStore, conn: Connection, meta: Metadata) -> None:
        if not meta.location:
            return
        pending = conn.info.get(DROP_AFTER_COMMIT)
        if pending is None:
            store.bulk.drop(conn, meta.location)
        else:  # inside DatasetStore.transaction: dropped once the new state is visible
            pending.append(meta.location)


class SeriesBackend(FrameBackend):
    """A Series is stored as a one-column frame and comes back as a Series."""

    kind = "pandas.series"
    priority = 100

    def supports(self, obj: Any) -> bool:
        return isinstance(obj, pd.Series)

    def to_frame(self, obj: Any) -> pd.DataFrame:
        if not isinstance(obj, pd.Series):
            raise UnsupportedObjectError(f"kind {self.kind!r} takes a Series")
        return obj.to_frame(name=obj.name if obj.name is not None else 0)

    def describe(self, store: DatasetStore, obj: Any, df: pd.DataFrame) -> dict:
        kind_meta = super().describe(store, obj, df)
        kind_meta["series_name"] = frames._check_label(obj.name, "series name")
        return kind_meta

    def finish(self, frame: pd.DataFrame, kind_meta: dict) -> Any:
        series = frame.iloc[:, 0]
        series.name = kind_meta.get("series_name")
        return series


def _frame_bytes(df: pd.DataFrame) -> int:
    return int(df.memory_usage(index=True, deep=False).sum())


def _specs_by_name(kind_meta: dict) -> dict[Any, dict]:
    specs = {s["name"]: s for s in kind_meta["columns"]}
    for level in kind_meta["index"].get("levels", []):
        if level["name"] is not None:
            specs.setdefault(level["name"], level)
    return specs


def _select_columns(specs: list[dict], ref: ObjectRef, columns: list | None) -> list[dict]:
    by_name = {s["name"]: s for s in specs}
    by_text = {str(s["name"]): s for s in specs}

    def find(label: Any) -> dict:
        spec = by_name.get(label) or by_text.get(str(label))
        if spec is None:
            known = ", ".join(repr(s["name"]) for s in specs)
            raise UnknownColumnError(f"unknown column {label!r}; columns: {known}")
        return spec

    selected = specs
    if ref.columns:
        chosen = [find(c) for c in ref.columns]
        if ref.exclude:
            dropped = {id(s) for s in chosen}
            selected = [s for s in specs if id(s) not in dropped]
        else:
            selected = chosen
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        allowed = {id(s) for s in selected}
        selected = [find(c) for c in columns]
        outside = [s["name"] for s in selected if id(s) not in allowed]
        if outside:
            raise UnknownColumnError(f"columns {outside!r} are excluded by the name's modifier")
    return selected


def _check_appendable(current: Metadata, kind: str, new: dict) -> None:
    if current.kind != kind:
        raise SchemaMismatchError(
            f"cannot append a {kind} to dataset {current.name!r} of kind {current.kind}"
        )
    old = current.kind_meta
    problems = []
    old_cols = [(s["name"], s["dtype"]) for s in old["columns"]]
    new_cols = [(s["name"], s["dtype"]) for s in new["columns"]]
    if old_cols != new_cols:
        problems.append(f"columns {new_cols} differ from stored {old_cols}")
    else:
        for a, b in zip(old["columns"], new["columns"], strict=True):
            if a.get("category") != b.get("category") or a["sql"] != b["sql"]:
                problems.append(f"column {a['name']!r}: categories or precision differ")
    old_ix, new_ix = old["index"], new["index"]
    if old_ix["type"] != new_ix["type"]:
        problems.append(f"index type {new_ix['type']} differs from stored {old_ix['type']}")
    elif old_ix["type"] != "range":
        strip = [{k: v for k, v in s.items() if k != "category"} for s in old_ix["levels"]]
        if strip != [{k: v for k, v in s.items() if k != "category"} for s in new_ix["levels"]]:
            problems.append("index levels (names or dtypes) differ")
    if problems:
        raise SchemaMismatchError(
            f"cannot append to {current.name!r}: " + "; ".join(problems) + " (nothing was written)"
        )


# =============================================================================================
class BlobBackend:
    """Base for kinds stored as one chunked blob."""

    kind = ""
    priority = 0

    def encode(self, obj: Any) -> tuple[io.RawIOBase | io.BufferedIOBase | Any, dict]:
        raise NotImplementedError

    def put(
        self,
        store: DatasetStore,
        obj: Any,
        name: str,
        append: bool,
        attributes: dict | None,
        progress: Progress | None = None,
    ) -> Metadata:
        if append:
            raise UnsupportedObjectError(f"append is not supported for kind {self.kind}")
        source, kind_meta = self.encode(obj)
        try:
            # The chunks and the metadata row commit together: all or nothing.
            for _attempt in range(WRITE_RETRIES):
                try:
                    with store.transaction() as conn:
                        blob_id, size, digest = store.blobs.write(conn, source)
                        return store.meta.add_version(
                            conn,
                            name,
                            self.kind,
                            location=blob_id,
                            kind_meta=dict(kind_meta, sha256=digest),
                            attributes=attributes,
                            size=size,
                            keep=store.settings.dataset_versions,
                            drop_physical=store._drop_physical,
                        )
                except ConcurrentWriteError:
                    if not _rewind(source):
                        raise
            raise ConcurrentWriteError(f"gave up writing {name!r}: too many concurrent writers")
        finally:
            if getattr(source, "_omega_owned", False):
                source.close()

    def drop_physical(self, store: DatasetStore, conn: Connection, meta: Metadata) -> None:
        if meta.location:
            store.blobs.delete(conn, meta.location)

    def _reject_query(self, ref: ObjectRef, columns: Any, chunksize: Any, filters: Any) -> None:
        if (ref.columns or columns or filters) and self.kind != "pandas.dataframe":
            raise InvalidFilterError(f"columns and filters apply to DataFrames, not {self.kind}")


class NdarrayBackend(BlobBackend):
    """numpy arrays in ``.npy`` format: dtype, shape and memory order kept, no pickle."""

    kind = "numpy.ndarray"
    priority = 90

    def supports(self, obj: Any) -> bool:
        return isinstance(obj, np.ndarray)

    def encode(self, obj: Any) -> tuple[Any, dict]:
        if not isinstance(obj, np.ndarray):
            raise UnsupportedObjectError(f"kind {self.kind!r} takes a numpy array")
        if obj.dtype.hasobject:
            raise UnsupportedObjectError(
                "numpy arrays of Python objects cannot be stored safely; store a DataFrame "
                "or a list instead"
            )
        buffer = io.BytesIO()
        np.save(buffer, obj, allow_pickle=False)
        buffer.seek(0)
        return buffer, {"dtype": str(obj.dtype), "shape": list(obj.shape)}

    def get(self, store: DatasetStore, meta: Metadata, *, ref: ObjectRef, **kw: Any) -> Any:
        self._reject_query(ref, kw.get("columns"), None, kw.get("filters"))
        with store.blobs.open(meta.location or "", meta.size) as reader:
            return np.lib.format.read_array(io.BufferedReader(reader), allow_pickle=False)


class PythonDataBackend(BlobBackend):
    """dicts and lists as JSON text."""

    kind = "python.data"
    priority = 80

    def supports(self, obj: Any) -> bool:
        return isinstance(obj, dict | list | tuple)

    def encode(self, obj: Any) -> tuple[Any, dict]:
        if not isinstance(obj, dict | list | tuple):
            raise UnsupportedObjectError(f"kind {self.kind!r} takes a dict, list or tuple")
        try:
            text = json.dumps(obj, allow_nan=True, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise UnsupportedObjectError(f"Python data must be JSON-serializable: {exc}") from exc
        return io.BytesIO(text.encode()), {"type": type(obj).__name__}

    def get(self, store: DatasetStore, meta: Metadata, *, ref: ObjectRef, **kw: Any) -> Any:
        self._reject_query(ref, kw.get("columns"), None, kw.get("filters"))
        with store.blobs.open(meta.location or "", meta.size) as reader:
            data = json.loads(reader.readall())
        return tuple(data) if meta.kind_meta.get("type") == "tuple" else data


class FileBackend(BlobBackend):
    """bytes, binary file objects and paths, streamed in chunks both ways.

    ``get`` returns a read-only binary file object; call ``.read()`` for the bytes.
    """

    kind = "python.file"
    priority = 70

    def supports(self, obj: Any) -> bool:
        # Text streams are claimed too, so that ``encode`` refuses them with a clear message.
        return isinstance(obj, bytes | bytearray | memoryview | os.PathLike) or hasattr(obj, "read")

    def encode(self, obj: Any) -> tuple[Any, dict]:
        meta: dict[str, Any] = {}
        if isinstance(obj, bytes | bytearray | memoryview):
            return io.BytesIO(bytes(obj)), meta
        if isinstance(obj, str | os.PathLike):
            path = Path(obj)
            if not path.is_file():
                raise UnsupportedObjectError(f"{path} is not a file")
            handle = path.open("rb")
            handle._omega_owned = True  # type: ignore[attr-defined]
            return handle, {"filename": path.name}
        if isinstance(obj, io.TextIOBase):
            raise UnsupportedObjectError("open files in binary mode ('rb') to store them")
        if hasattr(obj, "read"):
            name = getattr(obj, "name", None)
            if isinstance(name, str):
                meta["filename"] = Path(name).name
            return obj, meta
        raise UnsupportedObjectError(f"kind {self.kind!r} takes bytes, a path or a binary file")

    def get(self, store: DatasetStore, meta: Metadata, *, ref: ObjectRef, **kw: Any) -> Any:
        self._reject_query(ref, kw.get("columns"), None, kw.get("filters"))
        return io.BufferedReader(
            store.blobs.open(meta.location or "", meta.size), buffer_size=1 << 20
        )


def _rewind(source: Any) -> bool:
    """Seek ``source`` back to its start for another attempt; False if it cannot."""
    try:
        source.seek(0)
    except (AttributeError, OSError, ValueError):
        return False
    return True


@cache
def _registry() -> BackendRegistry:
    registry = BackendRegistry()
    for backend in (
        FrameBackend(),
        SeriesBackend(),
        NdarrayBackend(),
        PythonDataBackend(),
        FileBackend(),
    ):
        registry.register(backend)
    return registry


def default_registry() -> BackendRegistry:
    return _registry()
