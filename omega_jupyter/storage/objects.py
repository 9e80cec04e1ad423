"""The base of every versioned object store (datasets, models, jobs, scripts).

One store is one ``store`` value of the objects table in one bucket: a :class:`MetadataStore`
for its versions and a :class:`BlobStore` for kinds whose bytes live in chunked blobs.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pandas as pd
from sqlalchemy.engine import Connection

from omega_jupyter.exceptions import ConcurrentWriteError, ObjectNotFoundError
from omega_jupyter.names import parse_ref, validate_name
from omega_jupyter.settings import Settings
from omega_jupyter.storage.blobs import BlobStore
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import Metadata, MetadataStore

WRITE_RETRIES = 8
T = TypeVar("T")


def retry_write(
    write: Callable[[], T], name: str, what: str = "", can_retry: Callable[[], bool] | None = None
) -> T:
    """Call ``write`` (one transaction) until it does not raise :class:`ConcurrentWriteError`
    (a writer of the same name committed first), at most ``WRITE_RETRIES`` times.

    ``can_retry()`` is asked before each further attempt; False re-raises the conflict (the
    data to write cannot be read a second time).
    """
    for _attempt in range(WRITE_RETRIES):
        try:
            return write()
        except ConcurrentWriteError:
            if can_retry is not None and not can_retry():
                raise
    raise ConcurrentWriteError(f"gave up writing {what}{name!r}: too many concurrent writers")


class VersionedStore:
    """Shared wiring and methods of a store: ``list``, ``exists``, ``metadata``, ``versions``,
    ``drop`` and the retried commit of a new version.

    Subclasses set ``store_name`` (the objects table's ``store``) and ``noun`` (for messages),
    and override :meth:`_drop_physical` when a kind keeps its data outside blobs.
    """

    store_name: str = ""
    noun: str = "object"

    def __init__(
        self, db: Database, bucket: str, settings: Settings, store_name: str | None = None
    ) -> None:
        self.db = db
        self.bucket = bucket
        self.settings = settings
        if store_name is not None:
            self.store_name = store_name
        self.meta = MetadataStore(db, bucket, self.store_name)
        self.blobs = BlobStore(db, settings.blob_chunk_bytes, bucket)

    # -- writing --------------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[Connection]:
        """The write transaction new versions and drops run in."""
        return self.db.begin()

    def _commit(
        self,
        name: str,
        write: Callable[[Connection], Metadata],
        what: str = "",
        can_retry: Callable[[], bool] | None = None,
    ) -> Metadata:
        """Run ``write`` in a transaction, again on a concurrent-write conflict (see
        :func:`retry_write`)."""

        def attempt() -> Metadata:
            with self.transaction() as conn:
                return write(conn)

        return retry_write(attempt, name, what, can_retry)

    def _put_blob(
        self,
        name: str,
        kind: str,
        data: bytes | Path | BinaryIO,
        kind_meta: dict,
        attributes: dict | None,
        keep: int | None = None,
        then: Callable[[Connection, Metadata], None] | None = None,
        what: str = "",
    ) -> Metadata:
        """Store ``data`` (bytes, a file path or a binary file object) as a blob and a new
        version of ``name`` pointing at it, in one transaction retried on conflicts (a file
        object is read again from its start, or the conflict raised if it cannot seek);
        ``then(conn, meta)`` runs in the same transaction."""
        self.db.ensure_schema()

        def write(conn: Connection) -> Metadata:
            with _open(data) as handle:
                blob_id, size, digest = self.blobs.write(conn, handle)
            meta = self.meta.add_version(
                conn,
                name,
                kind,
                location=blob_id,
                kind_meta={**kind_meta, "sha256": digest},
                attributes=attributes,
                size=size,
                keep=keep,
                drop_physical=self._drop_physical,
            )
            if then is not None:
                then(conn, meta)
            return meta

        can_retry = None if isinstance(data, bytes | Path) else lambda: _rewind(data)
        return self._commit(name, write, what, can_retry)

    def _drop_physical(self, conn: Connection, meta: Metadata) -> None:
        """Remove the data of a version being deleted (its blob, by default)."""
        if meta.location:
            self.blobs.delete(conn, meta.location)

    # -- reading --------------------------------------------------------------------------
    def metadata(self, name: str) -> Metadata:
        return self.meta.resolve(parse_ref(name))

    def exists(self, name: str) -> bool:
        try:
            self.metadata(name)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, pattern: str | None = None, raw: bool = False) -> list[Any]:
        """Names (or :class:`Metadata` with ``raw=True``) of the objects matching a glob."""
        metas = self.meta.list(pattern)
        return metas if raw else [m.name for m in metas]

    def versions(self, name: str) -> pd.DataFrame:
        """The kept versions of ``name``, one row each (see :meth:`_version_columns`)."""
        metas = self.meta.versions(validate_name(name))
        if not metas:
            raise ObjectNotFoundError(f"{self.noun} {name!r} does not exist")
        return pd.DataFrame(self._version_columns(metas))

    def _version_columns(self, metas: list[Metadata]) -> dict[str, list]:
        return {
            "version": [m.version for m in metas],
            "created": [m.created for m in metas],
            "kind": [m.kind for m in metas],
            "size": [m.size for m in metas],
        }

    # -- removing -------------------------------------------------------------------------
    def drop(self, name: str, force: bool = False) -> bool:
        """Remove every version of ``name``. Missing: error, or False with ``force=True``."""
        validate_name(name)
        self.db.ensure_schema()
        with self.transaction() as conn:
            metas = self.meta.versions(name, conn)
            if not metas:
                if force:
                    return False
                raise ObjectNotFoundError(f"{self.noun} {name!r} does not exist")
            for meta in metas:
                self.meta.delete_version(conn, meta, self._drop_physical)
        self._after_drop(name)
        return True

    def _after_drop(self, name: str) -> None:
        """Called once every version of ``name`` is gone (committed)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bucket={self.bucket!r}, db={self.db.safe_url!r})"


def _open(data: bytes | Path | BinaryIO) -> AbstractContextManager[BinaryIO]:
    # Opened per attempt: a retried write reads the data again from its start. A file
    # object is the caller's: it is read (rewound by ``_rewind`` between attempts), not closed.
    if isinstance(data, Path):
        return data.open("rb")
    if isinstance(data, bytes):
        return io.BytesIO(data)
    return nullcontext(data)


def _rewind(source: BinaryIO) -> bool:
    """Seek ``source`` back to its start for another attempt; False if it cannot."""
    try:
        source.seek(0)
    except (AttributeError, OSError, ValueError):
        return False
    return True
