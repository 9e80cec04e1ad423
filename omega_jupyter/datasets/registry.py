"""Dataset backends (codecs), chosen by explicit priority (or forced with ``kind=``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol

from omega_jupyter.exceptions import UnsupportedObjectError
from omega_jupyter.storage.blobs import BlobStore
from omega_jupyter.storage.bulk import BulkIO
from omega_jupyter.storage.metadata import Metadata


class Backend(Protocol):
    """How one kind of object is encoded for storage and decoded again (see
    :mod:`omega_jupyter.datasets.backends`). ``priority``: higher is tried first; ``storage``:
    ``"table"`` (``encode`` gives a frame and its ``kind_meta``, ``decode`` reads a
    :class:`BulkIO`) or ``"blob"`` (``encode`` gives bytes, a path or a binary file,
    ``decode`` reads a :class:`BlobStore`)."""

    kind: str
    priority: int
    storage: Literal["table", "blob"]

    def supports(self, obj: Any) -> bool: ...

    def encode(self, obj: Any, *args: Any) -> tuple[Any, dict]: ...

    def decode(self, source: BulkIO | BlobStore, meta: Metadata, **options: Any) -> Any: ...


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
