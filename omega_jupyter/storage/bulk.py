"""Bulk table I/O per dialect: Arrow record batches in, Arrow tables out.

PostgreSQL goes through ADBC, whose ingest is a binary ``COPY`` and whose fetch decodes the
binary ``COPY`` stream straight into Arrow (the fastest paths measured, and they keep int16,
int32 and float32). SQLite uses the stdlib driver with ``executemany`` in one transaction.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.sql.util import find_tables

from omega_jupyter.storage import tenancy
from omega_jupyter.storage.engine import Database

# storage kinds -> Arrow type used for the bulk path
SQL_ARROW = {
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.large_string(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
SQL_TYPES: dict[str, Any] = {
    "int16": sa.SmallInteger(),
    "int32": sa.Integer(),
    "int64": sa.BigInteger(),
    "float32": sa.REAL(),
    "float64": sa.Double(),
    "bool": sa.Boolean(create_constraint=False),
    "text": sa.Text(),
    "timestamp": sa.DateTime(timezone=False),
    "timestamptz": sa.DateTime(timezone=True),
}
_PG_DIALECT = postgresql.psycopg.dialect(paramstyle="numeric_dollar")
DROP_LOCK_TIMEOUT = "30s"
log = logging.getLogger(__name__)


TABLE_PREFIX = "t_"
_STAMP_FORMAT = "%Y%m%d%H%M%S"
_STAMPED_RE = re.compile(r"^t_(\d{14})_([0-9a-f]{32})$")


def new_table_name() -> str:
    """A new data table's name, ``t_<UTC time it became visible>_<random hex>``.

    The time lets the sweep (:mod:`omega_jupyter.storage.gc`) tell a table whose version is
    about to commit from one whose writer died: a load renames its table with a fresh stamp
    in the transaction that makes the table visible (:meth:`BulkIO.seal`).
    """
    return f"{TABLE_PREFIX}{datetime.now(UTC).strftime(_STAMP_FORMAT)}_{uuid.uuid4().hex}"


def table_stamp(name: str) -> datetime | None:
    """When the data table ``name`` became visible (None for names without a stamp)."""
    match = _STAMPED_RE.match(name)
    if match is None:
        return None
    return datetime.strptime(match[1], _STAMP_FORMAT).replace(tzinfo=UTC)


def is_data_table(name: str) -> bool:
    """True for the physical names of data tables (stamped, or from before stamps)."""
    return _STAMPED_RE.match(name) is not None or re.match(r"^t_[0-9a-f]{32}$", name) is not None


class BulkIO:
    """Creates, loads, reads and drops a bucket's physical data tables."""

    def __init__(self, db: Database, bucket: str) -> None:
        self.db = db
        self.bucket = bucket
        self.schema = db.data_schema(bucket)

    def table(self, name: str, columns: list[tuple[str, str]]) -> sa.Table:
        """A SQLAlchemy ``Table`` for ``name`` with (physical name, storage kind) columns."""
        return sa.Table(
            name,
            sa.MetaData(),
            *(sa.Column(phys, SQL_TYPES[sql], quote=True) for phys, sql in columns),
            schema=self.schema,
        )

    # -- writes ---------------------------------------------------------------------------
    def load_new(
        self, table: sa.Table, batches: Iterable[pa.RecordBatch], schema: pa.Schema
    ) -> tuple[str, int]:
        """Create ``table`` and load ``batches`` in one committed transaction; returns the
        table's final name (see :meth:`seal`) and the rows loaded.

        The table is invisible to readers until a metadata row points at it.
        """
        if self.db.is_postgres:
            tenancy.ensure_bucket(self.db, self.bucket)  # its role owns the schema
            with self.db.begin() as conn:
                self.db.ensure_data_schema(conn, self.bucket)
            return self._pg_load(table, batches, schema)
        with self.db.begin(write=True) as conn:
            table.create(conn)
            rows = self._sqlite_insert(conn, table, batches)
            return self.seal(conn, table.name), rows

    def seal(self, conn: Connection, name: str) -> str:
        """Rename the new table ``name`` to a freshly stamped name inside the transaction
        that creates it, so its stamp is the time it became visible, however long the load
        took; returns the new name."""
        sealed = new_table_name()
        conn.execute(sa.text(f"ALTER TABLE {self.qualified(name)} RENAME TO {_quote(sealed)}"))
        return sealed

    def _pg_load(
        self, table: sa.Table, batches: Iterable[pa.RecordBatch], schema: pa.Schema
    ) -> tuple[str, int]:
        ddl = str(sa.schema.CreateTable(table).compile(dialect=_PG_DIALECT))
        counted = _Counter(batches)
        reader = pa.RecordBatchReader.from_batches(schema, counted)
        with self._adbc() as aconn:
            cur = aconn.cursor()
            try:
                cur.execute(ddl)
                cur.adbc_ingest(table.name, reader, mode="append", db_schema_name=self.schema)
                sealed = new_table_name()  # see seal()
                cur.execute(f"ALTER TABLE {self.qualified(table.name)} RENAME TO {_quote(sealed)}")
                aconn.commit()
            except Exception:
                # The driver wraps errors raised while producing batches (bad values, NUL in
                # text): surface the original, which says what is wrong with the data.
                if counted.error is not None:
                    raise counted.error from None
                raise
            finally:
                cur.close()
        return sealed, counted.rows

    def _sqlite_insert(
        self, conn: Connection, table: sa.Table, batches: Iterable[pa.RecordBatch]
    ) -> int:
        rows = 0
        names = [c.name for c in table.columns]
        sql = (
            f"INSERT INTO {_quote(table.name)} ({', '.join(_quote(n) for n in names)}) "
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for batch in batches:
                columns = [batch.column(n).to_pylist() for n in names]
                cursor.executemany(sql, zip(*columns, strict=True))
                rows += batch.num_rows
        finally:
            cursor.close()
        return rows

    def drop(self, conn: Connection, name: str) -> None:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {self.qualified(name)}"))

    def drop_when_unused(self, name: str) -> bool:
        """Drop a table no metadata row points at any more, in its own short transaction.

        Waits for readers still streaming it, at most ``DROP_LOCK_TIMEOUT``; returns False
        (the table is left behind, unreachable) if they take longer.
        """
        try:
            with self.db.begin() as conn:
                if self.db.is_postgres:
                    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
                self.drop(conn, name)
        except sa.exc.OperationalError:
            log.warning("table %s is still being read; left in place", self.qualified(name))
            return False
        return True

    def qualified(self, name: str) -> str:
        return f"{_quote(self.schema)}.{_quote(name)}" if self.schema else _quote(name)

    # -- reads ----------------------------------------------------------------------------
    def read(self, query: sa.Select, schema: pa.Schema) -> pa.Table:
        """Run ``query`` and return its rows as an Arrow table typed like ``schema``."""
        batches = list(self.read_batches(query, schema))
        return pa.Table.from_batches(batches, schema=schema)

    def read_batches(
        self, query: sa.Select, schema: pa.Schema, batch_rows: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """Stream ``query``'s rows as record batches (server-side on both dialects)."""
        if self.db.is_postgres:
            yield from self._pg_read(query, schema)
            return
        yield from self._sqlite_read(query, schema, batch_rows)

    def _pg_read(self, query: sa.Select, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        compiled = query.compile(dialect=_PG_DIALECT, compile_kwargs={"render_postcompile": True})
        params = [compiled.params[name] for name in compiled.positiontup or []]
        with self._adbc() as aconn:
            cur = aconn.cursor()
            try:
                # A replaced version's table is dropped once its readers are done. Lock first
                # and never wait: if a drop is already queued, fail now (the caller reads the
                # new version) instead of waiting for the drop and then failing anyway.
                for table in _data_tables(query):
                    cur.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE NOWAIT")
                cur.execute(str(compiled), params or None)
                reader = cur.fetch_record_batch()
                for batch in reader:
                    yield _conform(batch, schema)
            finally:
                cur.close()

    def _sqlite_read(
        self, query: sa.Select, schema: pa.Schema, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        with self.db.connect() as conn:
            result = conn.execution_options(yield_per=batch_rows).execute(query)
            for part in result.partitions(batch_rows):
                columns = list(zip(*part, strict=True)) if part else [()] * len(schema)
                arrays = [
                    _sqlite_array(values, field.type)
                    for values, field in zip(columns, schema, strict=True)
                ]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _adbc(self) -> AbstractContextManager[Any]:
        return self.db.adbc()


class _Counter:
    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._batches = batches
        self.rows = 0
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                self.rows += batch.num_rows
                yield batch
        except Exception as exc:
            self.error = exc
            raise


def _data_tables(query: sa.Select) -> list[str]:
    """The qualified names of the data tables ``query`` reads (``t_…``), sorted."""
    names = {
        f"{_quote(t.schema)}.{_quote(t.name)}" if t.schema else _quote(t.name)
        for t in find_tables(query, include_joins=True, include_aliases=True)
        if isinstance(t, sa.Table) and t.name.startswith(TABLE_PREFIX)
    }
    return sorted(names)


def _quote(name: str | None) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast what the driver returned to the storage types (drops driver field metadata)."""
    arrays = []
    for field in schema:
        column = batch.column(field.name)
        arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _sqlite_array(values: tuple, type_: pa.DataType) -> pa.Array:
    if type_ == pa.bool_():
        return pa.array([None if v is None else bool(v) for v in values], type=type_)
    if type_ in (pa.float32(), pa.float64()):
        return pa.array(values, type=pa.float64()).cast(type_)
    return pa.array(values, type=type_)


__all__ = ["SQL_ARROW", "BulkIO", "is_data_table", "new_table_name", "table_stamp"]
