"""``om.datasets``: DataFrames, Series, arrays, Python data and files, versioned and atomic.

The store owns the write path; codecs (:mod:`omega_jupyter.datasets.backends`) only encode.
A frame is bulk-loaded into a new data table that no reader can see, then either committed
as a new version (a pointer swap, :meth:`DatasetStore.commit_table`) or, with
``append=True``, copied behind the current version's rows in one transaction
(:meth:`DatasetStore.write_table`); a table whose commit fails is dropped again. Other kinds
are one blob written with the version row in one retried transaction. Attributes follow one
rule everywhere (:func:`~omega_jupyter.storage.metadata.merge_attributes`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.datasets import frame_codec, ingest
from omega_jupyter.datasets.backends import default_registry, frame_bytes
from omega_jupyter.datasets.lazy import open_lazy
from omega_jupyter.datasets.profile import (
    DEFAULT_BINS,
    DEFAULT_TOP,
    DatasetProfile,
    frame_stats,
    profile_dataset,
)
from omega_jupyter.datasets.registry import Backend, BackendRegistry
from omega_jupyter.exceptions import SchemaMismatchError, UnsupportedObjectError
from omega_jupyter.names import ObjectRef, parse_ref, validate_name
from omega_jupyter.progress import Progress, track
from omega_jupyter.settings import Settings
from omega_jupyter.storage.blobs import BlobStore
from omega_jupyter.storage.bulk import BulkIO, new_table_name
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import Metadata, merge_attributes, validate_attributes
from omega_jupyter.storage.objects import VersionedStore

READ_RETRIES = 10
DROP_AFTER_COMMIT = "omega_drop_after_commit"  # see DatasetStore.transaction


class DatasetStore(VersionedStore):
    """The datasets of one bucket."""

    store_name = "datasets"
    noun = "dataset"

    def __init__(self, db: Database, bucket: str, settings: Settings) -> None:
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
        codec = self.registry.for_kind(kind) if kind else self.registry.for_object(obj)
        if codec.storage == "table":
            postgres = self.db.is_postgres
            df, kind_meta = codec.encode(obj, postgres)
            stats = frame_stats(df, kind_meta)  # for profiles that need no scan
            if stats is not None and not append:
                kind_meta["stats"] = stats
            batches = codec.batches(df, kind_meta, self.settings.chunk_rows, postgres)
            return self.write_table(
                name,
                codec.kind,
                kind_meta,
                track(batches, progress, len(df)),
                append=append,
                attributes=attributes,
                size=frame_bytes(df),
            )
        if append:
            raise UnsupportedObjectError(f"append is not supported for kind {codec.kind}")
        data, kind_meta = codec.encode(obj)
        return self._put_blob(
            name, codec.kind, data, kind_meta, attributes, keep=self.settings.dataset_versions
        )

    def write_table(
        self,
        name: str,
        kind: str,
        kind_meta: dict,
        batches: Iterable[pa.RecordBatch],
        *,
        append: bool = False,
        attributes: dict | None = None,
        size: int | None = None,
    ) -> Metadata:
        """Bulk-load ``batches`` (encoded as ``kind_meta`` describes) into a new data table and
        make it the next version of ``name``; with ``append=True`` and an existing dataset,
        add its rows behind the current version's instead, in one transaction.

        ``size`` is the recorded size in bytes (estimated from the rows loaded when None);
        attributes follow :func:`merge_attributes`. A failed write leaves nothing behind.
        """
        current = self.meta.latest(name) if append else None
        if current is not None:
            _check_appendable(current, kind, kind_meta)  # fail before loading anything
        table = self.bulk.table(new_table_name(), frame_codec.table_columns(kind_meta))
        sealed, rows = self.bulk.load_new(table, batches, frame_codec.arrow_schema(kind_meta))
        table = self.bulk.table(sealed, frame_codec.table_columns(kind_meta))
        kind_meta = dict(kind_meta, rows=rows)
        if size is None:
            size = rows * 8 * (len(kind_meta["columns"]) + 1)
        if current is None:
            return self.commit_table(
                name, kind, table.name, kind_meta=kind_meta, attributes=attributes, size=size
            )
        try:
            return self._append_rows(name, kind, table, kind_meta, attributes, size)
        except BaseException:
            with self.db.begin() as conn:
                self.bulk.drop(conn, table.name)
            raise

    def _append_rows(
        self,
        name: str,
        kind: str,
        staging: sa.Table,
        kind_meta: dict,
        attributes: dict | None,
        size: int,
    ) -> Metadata:
        """Move the rows of ``staging`` behind the latest version's, in one transaction that
        holds that version locked; ``staging`` is dropped in the same transaction."""
        with self.db.begin() as conn:
            locked = self.meta.lock_latest(conn, name)
            if locked is None:
                raise SchemaMismatchError(f"dataset {name!r} was dropped meanwhile")
            _check_appendable(locked, kind, kind_meta)
            offset = int(locked.kind_meta["rows"])
            target = self.bulk.table(
                locked.location or "", frame_codec.table_columns(locked.kind_meta)
            )
            row = staging.c[frame_codec.ROW_COLUMN] + offset
            source = sa.select(
                *(row if c.name == frame_codec.ROW_COLUMN else c for c in staging.columns)
            )
            conn.execute(target.insert().from_select([c.name for c in staging.columns], source))
            self.meta.update(
                conn,
                locked,
                # the rows change: statistics written with the version no longer hold
                kind_meta={
                    **{k: v for k, v in locked.kind_meta.items() if k != "stats"},
                    "rows": offset + kind_meta["rows"],
                },
                size=locked.size + size,
                attributes=merge_attributes(locked.attributes, attributes),
            )
            self.bulk.drop(conn, staging.name)
            return locked

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
        if not meta.location:
            return
        if self.registry.for_kind(meta.kind).storage == "blob":
            self.blobs.delete(conn, meta.location)
            return
        pending = conn.info.get(DROP_AFTER_COMMIT)
        if pending is None:
            self.bulk.drop(conn, meta.location)
        else:  # inside DatasetStore.transaction: dropped once the new state is visible
            pending.append(meta.location)

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
        dask: bool | int = False,
        **filters: Any,
    ) -> Any:
        """Read a dataset. ``name`` takes modifiers (``sales[a,b]``, ``sales[^c]``, ``sales@2``);
        ``filters`` are ``column__op=value`` (eq ne lt lte gt gte in nin between isnull
        contains startswith endswith); ``chunksize`` returns an iterator of frames;
        ``lazy=True`` returns a :class:`LazyFrame` (see :meth:`getl`); ``dask=True`` (or a
        number of partitions, default 4) a dask DataFrame whose partitions the workers read
        from the database themselves (``getl(name).to_dask()``)."""
        if dask is not False and dask is not None:
            partitions = 4 if dask is True else int(dask)
            return self.get(name, version, columns, lazy=True, **filters).to_dask(
                npartitions=partitions
            )
        if lazy:
            frame = self.getl(name, version)
            frame = frame[list(columns)] if columns is not None else frame
            return frame.query(**filters) if filters else frame
        ref = self.reference(name, version)
        for attempt in range(READ_RETRIES):
            meta = self.meta.resolve(ref)
            codec = self.registry.for_kind(meta.kind)
            try:
                result = codec.decode(
                    self._reader(codec),
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

    def _reader(self, codec: Backend) -> BulkIO | BlobStore:
        return self.bulk if codec.storage == "table" else self.blobs

    def _gone(self, meta: Metadata) -> bool:
        return all(kept.id != meta.id for kept in self.meta.versions(meta.name))

    def getl(self, name: str, version: int | None = None) -> Any:
        """A lazy frame over a stored DataFrame: pandas-like operations that run in the
        database; ``.value`` executes (see :mod:`omega_jupyter.datasets.lazy`)."""
        return open_lazy(self, name, version)

    def profile(
        self,
        name: str,
        version: int | None = None,
        bins: int = DEFAULT_BINS,
        top: int = DEFAULT_TOP,
        exact: bool = False,
    ) -> DatasetProfile:
        """Per column dtype, count, nulls, distinct count, min/max/mean/std, the ``top`` most
        frequent values and a ``bins``-bin histogram over every row (see
        :mod:`omega_jupyter.datasets.profile`). Distinct counts of numeric and time columns
        of large versions are estimates (``distinct_approx``) unless ``exact=True``, which
        also computes every figure in the database. ``.to_frame()`` gives a DataFrame,
        ``.vega_lite(column)`` a chart."""
        return profile_dataset(self, name, version, bins=bins, top=top, exact=exact)

    def read_csv(
        self,
        source: Any,
        name: str,
        chunksize: int = 100_000,
        append: bool = False,
        attributes: dict | None = None,
        progress: Progress | None = None,
        encoding: str = "utf-8",
        **pandas_kwargs: Any,
    ) -> Metadata:
        """Stream a CSV (path, ``http(s)://`` URL or file object; ``.gz`` decompressed) into
        dataset ``name`` in chunks of ``chunksize`` rows, with bounded memory. Dtypes come
        from the first chunk; the new version becomes visible atomically, like :meth:`put`,
        and ``append`` and ``attributes`` act as they do there.

        ``encoding`` is the file's text encoding (``latin-1``, ``cp1252`` …). Column names
        must be unique, as for :meth:`put`: a header naming a column twice is refused."""
        validate_name(name)
        pandas_kwargs["encoding"] = ingest.check_encoding(encoding)
        validate_attributes(attributes, postgres=self.db.is_postgres)
        ingest.check_chunking(chunksize, pandas_kwargs)
        self.db.ensure_schema()
        with ingest.csv_batches(
            source,
            int(chunksize),
            self.settings.chunk_rows,
            self.db.is_postgres,
            pandas_kwargs,
        ) as (kind_meta, batches):
            return self.write_table(
                name,
                "pandas.dataframe",
                kind_meta,
                track(batches, progress, None),
                append=append,
                attributes=attributes,
            )

    def to_csv(self, name: str, path: Any, chunksize: int = 100_000, **pandas_kwargs: Any) -> int:
        """Stream dataset ``name`` into a CSV file (gzip by extension); returns rows written."""
        return self.getl(name).to_csv(path, chunksize=chunksize, **pandas_kwargs)

    def reference(self, name: str, version: int | None = None) -> ObjectRef:
        """``name`` parsed with its modifiers; ``version`` (if given) overrides ``name@N``."""
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


def _check_appendable(current: Metadata, kind: str, new: dict) -> None:
    """Refuse to append rows described by ``new`` to ``current`` unless kind, columns,
    dtypes, categories and index match."""
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


def _started(chunks: Generator) -> Iterator[Any]:
    """``chunks`` with its first item already read (errors surface here, not later)."""
    first = next(chunks, _END)
    return chain([] if first is _END else [first], chunks)


_END = object()
