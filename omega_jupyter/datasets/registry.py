"""Dataset backends (codecs), chosen by explicit priority (or forced with ``kind=``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import pandas as pd
import pyarrow as pa

from omega_jupyter.exceptions import UnsupportedObjectError
from omega_jupyter.storage.blobs import BlobStore
from omega_jupyter.storage.bulk import BulkIO
from omega_jupyter.storage.metadata import Metadata


class TableCodec(Protocol):
    """A kind stored as one SQL table per version (frames, series): ``encode`` gives the frame
    and its ``kind_meta``, ``batches`` its rows for the bulk loader, ``decode`` reads them back
    through the bucket's :class:`BulkIO`. ``priority``: higher is tried first."""

    kind: str
    priority: int
    storage: Literal["table"]

    def supports(self, obj: Any) -> bool: ...

    def encode(self, obj: Any, postgres: bool) -> tuple[pd.DataFrame, dict]: ...

    def batches(
        self, df: pd.DataFrame, kind_meta: dict, batch_rows: int, postgres: bool
    ) -> Iterator[pa.RecordBatch]: ...

    def decode(self, bulk: BulkIO, meta: Metadata, **options: Any) -> Any: ...


class BlobCodec(Protocol):
    """A kind stored as one chunked blob per version: ``encode`` gives bytes, a path or a
    binary file and ``kind_meta``; ``decode`` reads it back through a :class:`BlobStore`."""

    kind: str
    priority: int
    storage: Literal["blob"]

    def supports(self, obj: Any) -> bool: ...

    def encode(self, obj: Any) -> tuple[bytes | Path | BinaryIO, dict]: ...

    def decode(self, blobs: BlobStore, meta: Metadata, **options: Any) -> Any: ...


Backend = TableCodec | BlobCodec


class BackendRegistry:
    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}

    def register(self, backend: Backend) -> None:
        self._backends[backend.kind] = backend

    def __iter__(self) -> Iterator[Backend]:
        return iter(sorted(self._backends.values(), key=lambda b: -b.priority))

    def for_kind(self, kind: str) -> Backend:
        try:
            return self._backends[kind]
        except KeyError:
            known = ", ".join(sorted(self._backends))
            raise UnsupportedObjectError(f"unknown kind {kind!r}; known kinds: {known}") from None

    def for_object(self, obj: Any) -> Backend:
        for backend in self:
            if backend.supports(obj):
                return backend
        raise UnsupportedObjectError(
            f"cannot store an object of type {type(obj).__module__}.{type(obj).__qualname__}; "
            "datasets take DataFrames, Series, numpy arrays, dicts/lists (JSON), bytes and files"
        )
