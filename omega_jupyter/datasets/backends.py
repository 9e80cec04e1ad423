"""The dataset codecs, one per kind: pandas frames and series become record batches for a new
SQL table; arrays, Python data and files become the bytes of one chunked blob.

A codec turns objects into what is stored and back; it never writes or commits. The
:class:`~omega_jupyter.datasets.store.DatasetStore` loads and commits what ``encode`` returns
(new version or append, the attribute rule, clean-up on failure) and hands ``decode`` the
reader it needs: the bucket's :class:`BulkIO` for tables, its :class:`BlobStore` for blobs.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from omega_jupyter.datasets import frame_codec
from omega_jupyter.datasets.filters import compile_filters
from omega_jupyter.datasets.registry import BackendRegistry
from omega_jupyter.exceptions import (
    InvalidFilterError,
    UnknownColumnError,
    UnsupportedObjectError,
)
from omega_jupyter.names import ObjectRef
from omega_jupyter.progress import Progress, track
from omega_jupyter.storage.blobs import BlobStore
from omega_jupyter.storage.bulk import BulkIO
from omega_jupyter.storage.metadata import Metadata


# =============================================================================================
class FrameBackend:
    """DataFrames (and Series) as one SQL table per version, loaded in bulk."""

    kind = "pandas.dataframe"
    priority = 100
    storage: Literal["table"] = "table"

    def supports(self, obj: Any) -> bool:
        return isinstance(obj, pd.DataFrame)

    def to_frame(self, obj: Any) -> pd.DataFrame:
        if not isinstance(obj, pd.DataFrame):
            raise UnsupportedObjectError(f"kind {self.kind!r} takes a DataFrame")
        return obj

    def describe(self, obj: Any, df: pd.DataFrame, postgres: bool) -> dict:
        return frame_codec.describe_frame(df, native_timestamps=postgres)

    def encode(self, obj: Any, postgres: bool) -> tuple[pd.DataFrame, dict]:
        """The frame to store and its ``kind_meta`` (refused here if the database cannot
        store its labels or its width)."""
        df = self.to_frame(obj)
        kind_meta = self.describe(obj, df, postgres)
        frame_codec.check_storable(kind_meta, postgres)
        return df, kind_meta

    @staticmethod
    def batches(
        df: pd.DataFrame, kind_meta: dict, batch_rows: int, postgres: bool
    ) -> Iterator[pa.RecordBatch]:
        """The rows of ``df`` as the record batches the bulk loader takes."""
        batches = frame_codec.encode_batches(df, kind_meta, batch_rows)
        if postgres:
            batches = frame_codec.reject_nul_text(batches, kind_meta)
        return batches

    # -- get ------------------------------------------------------------------------------
    def decode(
        self,
        bulk: BulkIO,
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
        wanted = select_columns(kind_meta["columns"], ref, columns)
        table = bulk.table(meta.location or "", frame_codec.table_columns(kind_meta))
        index_specs = kind_meta["index"].get("levels", [])
        read_specs = [*index_specs, *wanted]
        query = sa.select(
            table.c[frame_codec.ROW_COLUMN], *(table.c[s["phys"]] for s in read_specs)
        ).where(*compile_filters(filters or {}, table, _specs_by_name(kind_meta)))
        schema = pa.schema(
            [pa.field(frame_codec.ROW_COLUMN, pa.int64())]
            + [pa.field(s["phys"], frame_codec.SQL_ARROW[s["sql"]]) for s in read_specs]
        )
        if chunksize is not None:
            if int(chunksize) < 1:
                raise ValueError("chunksize must be >= 1")
            ordered = query.order_by(table.c[frame_codec.ROW_COLUMN])
            chunks = self._chunks(bulk, ordered, schema, kind_meta, wanted, int(chunksize))
            return track(chunks, progress, None if filters else kind_meta["rows"])
        batches = track(bulk.read_batches(query, schema), progress, kind_meta["rows"])
        columns = frame_codec.ColumnBatches(batches, schema)
        del batches
        if not columns.in_row_order():  # rare: sort the whole table
            return self.finish(
                frame_codec.decode_table(
                    frame_codec.order_by_row(columns.to_table()), kind_meta, wanted
                ),
                kind_meta,
            )
        return self.finish(frame_codec.decode_table(columns, kind_meta, wanted), kind_meta)

    def _chunks(
        self,
        bulk: BulkIO,
        query: sa.Select,
        schema: pa.Schema,
        kind_meta: dict,
        wanted: list[dict],
        chunksize: int,
    ) -> Iterator[Any]:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in bulk.read_batches(query, schema, batch_rows=chunksize):
            pending.append(batch)
            rows += batch.num_rows
            while rows >= chunksize:
                table = pa.Table.from_batches(pending, schema=schema)
                head, rest = table.slice(0, chunksize), table.slice(chunksize)
                yield self.finish(frame_codec.decode_table(head, kind_meta, wanted), kind_meta)
                pending, rows = rest.to_batches(), rest.num_rows
        if rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield self.finish(frame_codec.decode_table(table, kind_meta, wanted), kind_meta)

    def finish(self, frame: pd.DataFrame, kind_meta: dict) -> Any:
        return frame


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

    def describe(self, obj: Any, df: pd.DataFrame, postgres: bool) -> dict:
        kind_meta = super().describe(obj, df, postgres)
        kind_meta["series_name"] = frame_codec.check_label(obj.name, "series name")
        return kind_meta

    def finish(self, frame: pd.DataFrame, kind_meta: dict) -> Any:
        series = frame.iloc[:, 0]
        series.name = kind_meta.get("series_name")
        return series


def frame_bytes(df: pd.DataFrame) -> int:
    """The size recorded for a stored frame: its memory in pandas (without object contents)."""
    return int(df.memory_usage(index=True, deep=False).sum())


def _specs_by_name(kind_meta: dict) -> dict[Any, dict]:
    specs = {s["name"]: s for s in kind_meta["columns"]}
    for level in kind_meta["index"].get("levels", []):
        if level["name"] is not None:
            specs.setdefault(level["name"], level)
    return specs


def select_columns(specs: list[dict], ref: ObjectRef, columns: list | None) -> list[dict]:
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


# =============================================================================================
class BlobBackend:
    """Base for kinds stored as one chunked blob."""

    kind = ""
    priority = 0
    storage: Literal["blob"] = "blob"

    def encode(self, obj: Any) -> tuple[bytes | Path | BinaryIO, dict]:
        """The bytes to store (bytes, a file path or a binary file object) and ``kind_meta``."""
        raise NotImplementedError

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

    def decode(self, blobs: BlobStore, meta: Metadata, *, ref: ObjectRef, **kw: Any) -> Any:
        self._reject_query(ref, kw.get("columns"), None, kw.get("filters"))
        with blobs.open(meta.location or "", meta.size) as reader:
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
        return text.encode(), {"type": type(obj).__name__}

    def decode(self, blobs: BlobStore, meta: Metadata, *, ref: ObjectRef, **kw: Any) -> Any:
        self._reject_query(ref, kw.get("columns"), None, kw.get("filters"))
        with blobs.open(meta.location or "", meta.size) as reader:
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
            return bytes(obj), meta
        if isinstance(obj, str | os.PathLike):
            path = Path(obj)
            if not path.is_file():
                raise UnsupportedObjectError(f"{path} is not a file")
            return path, {"filename": path.name}
        if isinstance(obj, io.TextIOBase):
            raise UnsupportedObjectError("open files in binary mode ('rb') to store them")
        if hasattr(obj, "read"):
            name = getattr(obj, "name", None)
            if isinstance(name, str):
                meta["filename"] = Path(name).name
            return obj, meta
        raise UnsupportedObjectError(f"kind {self.kind!r} takes bytes, a path or a binary file")

    def decode(self, blobs: BlobStore, meta: Metadata, *, ref: ObjectRef, **kw: Any) -> Any:
        self._reject_query(ref, kw.get("columns"), None, kw.get("filters"))
        return io.BufferedReader(blobs.open(meta.location or "", meta.size), buffer_size=1 << 20)


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
