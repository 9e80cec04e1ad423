"""``om.datasets``: DataFrames, Series, arrays, Python data and files, versioned and atomic."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any

from sqlalchemy.engine import Connection

from omega_jupyter.datasets.backends import DROP_AFTER_COMMIT
from omega_jupyter.datasets.registry import BackendRegistry
from omega_jupyter.names import ObjectRef, parse_ref, validate_name
from omega_jupyter.progress import Progress
from omega_jupyter.settings import Settings
from omega_jupyter.storage.bulk import BulkIO
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import Metadata, validate_attributes
from omega_jupyter.storage.objects import VersionedStore

READ_RETRIES = 10


class DatasetStore(VersionedStore):
    """The datasets of one bucket."""

    store_name = "datasets"
    noun = "dataset"

    def __init__(self, db: Database, bucket: str, settings: Settings) -> None:
        from omega_jupyter.datasets.backends import default_registry

        super().__init__(db, bucket, settings)
        self.bulk = BulkIO(db, bucket)
        self.registry: BackendRegistry = default_registry()

    # -- writing --------------------------------------------------------------------------
    def put(
        self,
        obj: Any,
        name: str,
        append: bool = False,
        attributes: dict | None = None,
        kind: str | None = None,
        progress: Progress | None = None,
    ) -> Metadata:
        """Store ``obj`` as a new version of ``name`` (``append=True`` adds rows instead).

        The new version becomes visible atomically; until then readers see the previous one.
        ``progress(done, total)`` is called as rows are written.
        """
        validate_name(name)
        validate_attributes(attributes, postgres=self.db.is_postgres)
        self.db.ensure_schema()
        backend = self.registry.for_kind(kind) if kind else self.registry.for_object(obj)
        return backend.put(self, obj, name, append, attributes, progress=progress)

    def commit_version(
        self,
        name: str,
        kind: str,
        *,
        location: str | None,
        kind_meta: dict,
        attributes: dict | None,
        size: int,
        keep: int | None,
    ) -> Metadata:
        """Make a prepared version visible (one short transaction, retried on conflicts)."""
        return self._commit(
            name,
            lambda conn: self.meta.add_version(
                conn,
                name,
                kind,
                location=location,
                kind_meta=kind_meta,
                attributes=attributes,
                size=size,
                keep=keep,
                drop_physical=self._drop_physical,
            ),
        )

    def commit_table(
        self,
        name: str,
        kind: str,
        table: str,
        *,
        kind_meta: dict,
        attributes: dict | None,
        size: int,
    ) -> Metadata:
        """Make a version whose rows were loaded into the new data table ``table`` visible
        (keeping ``dataset_versions``); if that fails, the table is dropped again, so a failed
        write leaves nothing behind."""
        try:
            return self.commit_version(
                name,
                kind,
                location=table,
                kind_meta=kind_meta,
                attributes=attributes,
                size=size,
                keep=self.settings.dataset_versions,
            )
        except BaseException:
            with self.db.begin() as conn:
                self.bulk.drop(conn, table)
            raise

    def _drop_physical(self, conn: Connection, meta: Metadata) -> None:
        self.registry.for_kind(meta.kind).drop_physical(self, conn, meta)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; data tables of versions it removes are dropped after commit.

        Dropping a table waits for its readers and, on PostgreSQL, makes later readers queue
        behind it: done inside the transaction, it would keep the old version current while
        waiting. After commit, readers have already moved to the new version.
        """
        pending: list[str] = []
        with self.db.begin() as conn:
            conn.info[DROP_AFTER_COMMIT] = pending
            try:
                yield conn
            finally:
                conn.info.pop(DROP_AFTER_COMMIT, None)
        for table in pending:
            self.bulk.drop_when_unused(table)

    # -- reading --------------------------------------------------------------------------
    def get(
        self,
        name: str,
        version: int | None = None,
        columns: list | None = None,
        chunksize: int | None = None,
        progress: Progress | None = None,
        lazy: bool = False,
        **filters: Any,
    ) -> Any:
        """Read a dataset. ``name`` takes modifiers (``sales[a,b]``, ``sales[^c]``, ``sales@2``);
        ``filters`` are ``column__op=value`` (eq ne lt lte gt gte in nin between isnull
        contains startswith endswith); ``chunksize`` returns an iterator of frames;
        ``lazy=True`` returns a :class:`LazyFrame` (see :meth:`getl`)."""
        if lazy:
            frame = self.getl(name, version)
            frame = frame[list(columns)] if columns is not None else frame
            return frame.query(**filters) if filters else frame
        ref = self._ref(name, version)
        for attempt in range(READ_RETRIES):
            meta = self.meta.resolve(ref)
            backend = self.registry.for_kind(meta.kind)
            try:
                result = backend.get(
                    self,
                    meta,
                    ref=ref,
                    columns=columns,
                    chunksize=chunksize,
                    filters=filters,
                    progress=progress,
                )
                # Start a chunked read now: once reading, the version's table cannot go away.
                return _started(result) if isinstance(result, Generator) else result
            except Exception:
                # A concurrent put or drop removed the version between resolving it and
                # reading it: read whatever is current now.
                if attempt + 1 < READ_RETRIES and self._gone(meta):
                    continue
                raise
        raise AssertionError("unreachable")

    def _gone(self, meta: Metadata) -> bool:
        return all(kept.id != meta.id for kept in self.meta.versions(meta.name))

    def getl(self, name: str, version: int | None = None) -> Any:
        """A lazy frame over a stored DataFrame: pandas-like operations that run in the
        database; ``.value`` executes (see :mod:`omega_jupyter.datasets.lazy`)."""
        from omega_jupyter.datasets.lazy import open_lazy

        return open_lazy(self, name, version)

    def read_csv(
        self,
        source: Any,
        name: str,
        chunksize: int = 100_000,
        append: bool = False,
        attributes: dict | None = None,
        progress: Progress | None = None,
        **pandas_kwargs: Any,
    ) -> Metadata:
        """Stream a CSV (path, ``http(s)://`` URL or file object; ``.gz`` decompressed) into
        dataset ``name`` in chunks of ``chunksize`` rows, with bounded memory. Dtypes come
        from the first chunk; the new version becomes visible atomically, like :meth:`put`."""
        from omega_jupyter.datasets.ingest import read_csv

        return read_csv(
            self, source, name, chunksize, append, attributes, progress, **pandas_kwargs
        )

    def to_csv(self, name: str, path: Any, chunksize: int = 100_000, **pandas_kwargs: Any) -> int:
        """Stream dataset ``name`` into a CSV file (gzip by extension); returns rows written."""
        return self.getl(name).to_csv(path, chunksize=chunksize, **pandas_kwargs)

    def _ref(self, name: str, version: int | None) -> ObjectRef:
        ref = parse_ref(name)
        if version is not None:
            ref = ObjectRef(ref.name, ref.columns, ref.exclude, int(version))
        return ref

    def _version_columns(self, metas: list[Metadata]) -> dict[str, list]:
        """version, created, kind, size, rows."""
        return {
            **super()._version_columns(metas),
            "rows": [m.kind_meta.get("rows") for m in metas],
        }


def _started(chunks: Generator) -> Iterator[Any]:
    """``chunks`` with its first item already read (errors surface here, not later)."""
    first = next(chunks, _END)
    return chain([] if first is _END else [first], chunks)


_END = object()
