"""Storage backends, chosen for an object by explicit priority (or forced with ``kind=``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from omega_jupyter.exceptions import UnsupportedObjectError
from omega_jupyter.progress import Progress

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from omega_jupyter.datasets.store import DatasetStore
    from omega_jupyter.storage.metadata import Metadata


class Backend(Protocol):
    """How one kind of object is stored. ``priority``: higher is tried first."""

    kind: str
    priority: int

    def supports(self, obj: Any) -> bool: ...

    def put(
        self,
        store: DatasetStore,
        obj: Any,
        name: str,
        append: bool,
        attributes: dict | None,
        progress: Progress | None = None,
    ) -> Metadata: ...

    def get(self, store: DatasetStore, meta: Metadata, **options: Any) -> Any: ...

    def drop_physical(self, store: DatasetStore, conn: Connection, meta: Metadata) -> None: ...


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
