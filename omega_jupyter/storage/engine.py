"""Database connections: one SQLAlchemy engine per URL, schema checks, bucket namespaces."""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from omega_jupyter.exceptions import (
    ConfigurationError,
    DatabaseUnavailableError,
    PermissionDeniedError,
)
from omega_jupyter.names import bucket_schema_name

_engines: dict[str, Database] = {}
_engines_lock = threading.Lock()


class Database:
    """An engine plus what the project needs to know about its dialect."""

    def __init__(self, url: str) -> None:
        try:
            self.url = make_url(url)
        except ArgumentError as exc:
            raise ConfigurationError(f"database URL {url!r} is malformed: {exc}") from exc
        if self.url.drivername == "postgresql":
            self.url = self.url.set(drivername="postgresql+psycopg")
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("postgresql", "sqlite"):
            raise ConfigurationError(
                f"database {self.dialect!r} is not supported: use postgresql+psycopg:// or sqlite://"
            )
        self.engine = self._create_engine()
        self._schema_checked = False
        self._lock = threading.Lock()
        self._adbc_idle: list[Any] = []
        self._adbc_pid = os.getpid()
        self.last_used = time.monotonic()
        self._holds_idle = False
        _pooling.add(self)

    def _used(self) -> None:
        """Note a use; close other PostgreSQL pools that sat unused for a while (see
        :func:`_close_idle_pools`)."""
        self.last_used = now = time.monotonic()
        self._holds_idle = True
        _close_idle_pools(now)

    # -- engine ---------------------------------------------------------------------------
    def _create_engine(self) -> Engine:
        try:
            if self.dialect == "sqlite":
                return _sqlite_engine(self.url)
            # pre-ping costs a round trip per checkout (~0.1 ms on loopback) but a call right
            # after the server ended a session still succeeds; recycle bounds idle age.
            engine = sa.create_engine(self.url, pool_pre_ping=True, pool_recycle=1800)
            event.listen(engine, "handle_error", _permission_denied)
            return engine
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigurationError(f"no driver for {self.safe_url}: {exc}") from exc

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def ensure_schema(self) -> None:
        """Create the schema on an empty database; refuse an outdated one (once per process)."""
        if self._schema_checked:
            return
        with self._lock:
            if not self._schema_checked:
                from omega_jupyter.storage import migrate  # Alembic is slow to import

                with self.connect() as conn:
                    migrate.ensure_current(conn)
                    conn.commit()
                self._schema_checked = True

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection; raises :class:`DatabaseUnavailableError` when the server is unreachable."""
        self._used()
        try:
            conn = self.engine.connect()
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailableError(
                f"cannot connect to {self.safe_url}: {reason} "
                "(check OMEGA_DATABASE_URL and that the server is running)"
            ) from exc
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def begin(self, write: bool = True) -> Iterator[Connection]:
        """A transaction. ``write=True`` takes SQLite's write lock up front (``BEGIN IMMEDIATE``)
        so two writers queue instead of failing on lock upgrade."""
        with self.connect() as conn:
            if self.dialect == "sqlite" and write:
                conn = conn.execution_options(omega_write=True)
            with conn.begin():
                yield conn

    # -- buckets --------------------------------------------------------------------------
    def data_schema(self, bucket: str) -> str | None:
        """The PostgreSQL schema holding a bucket's data tables (None on SQLite)."""
        if not self.is_postgres:
            return None
        return bucket_schema_name(bucket)

    def ensure_data_schema(self, conn: Connection, bucket: str) -> None:
        schema = self.data_schema(bucket)
        if schema is None:
            return
        # A bucket's own role may not CREATE SCHEMA (PostgreSQL checks that before IF NOT
        # EXISTS): its schema exists since its role does (storage/tenancy.py).
        if conn.execute(sa.text("SELECT to_regnamespace(:s)"), {"s": f'"{schema}"'}).scalar():
            return
        # CREATE SCHEMA IF NOT EXISTS can still race on the catalog's unique index: serialize.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

    @contextmanager
    def adbc(self) -> Iterator[Any]:
        """A pooled ADBC connection to PostgreSQL (the bulk path).

        Connecting costs ~0.1 s (the driver loads the type catalog), more than a small put
        or get, so connections are reused. One goes back to the pool only after a rollback,
        so an idle connection never holds a snapshot or a lock on a table.
        """
        conn = self._adbc_checkout()
        try:
            yield conn
            conn.rollback()
        except BaseException as exc:
            _close_quietly(conn)
            if getattr(exc, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
                raise PermissionDeniedError(_first_line(exc)) from exc
            raise
        with self._lock:
            if os.getpid() == self._adbc_pid and len(self._adbc_idle) < _ADBC_POOL_SIZE:
                self._adbc_idle.append(conn)
                return
        _close_quietly(conn)

    def _adbc_checkout(self) -> Any:
        import adbc_driver_postgresql.dbapi as adbc_pg

        self._used()
        with self._lock:
            if os.getpid() != self._adbc_pid:
                # Inherited through fork: these sockets belong to the parent; never use or
                # close them here (closing would end the parent's sessions).
                _forked_away.extend(self._adbc_idle)
                self._adbc_idle, self._adbc_pid = [], os.getpid()
            idle = self._adbc_idle.pop() if self._adbc_idle else None
        if idle is not None and _adbc_alive(idle):
            return idle
        if idle is not None:
            _close_quietly(idle)
        uri = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            return adbc_pg.connect(uri)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0]
            raise DatabaseUnavailableError(f"cannot connect to {self.safe_url}: {reason}") from exc

    def dispose(self) -> None:
        self._holds_idle = False
        self.engine.dispose()
        self._close_adbc_pool()

    def _close_adbc_pool(self) -> None:
        with self._lock:
            idle, self._adbc_idle = self._adbc_idle, []
            if os.getpid() != self._adbc_pid:
                _forked_away.extend(idle)
                return
        for conn in idle:
            _close_quietly(conn)


_ADBC_POOL_SIZE = 4
# A process that serves many buckets (a worker, a hub user's server) opens one pool per
# bucket credential; pools unused this long give their idle sessions back, so the server's
# max_connections is never spent on buckets nobody is using. The pool reopens on next use.
IDLE_POOL_SECONDS = 10.0
_idle_scan = [0.0]


def _close_idle_pools(now: float) -> None:
    if now - _idle_scan[0] < 1.0:  # scan at most once a second
        return
    _idle_scan[0] = now
    try:
        pools = list(_pooling)
    except RuntimeError:  # another thread opened a database meanwhile: scan next time
        return
    for db in pools:
        if db._holds_idle and db.dialect == "postgresql" and now - db.last_used > IDLE_POOL_SECONDS:
            db.dispose()


_forked_away: list[Any] = []
_pooling: weakref.WeakSet[Database] = weakref.WeakSet()


@atexit.register
def _close_adbc_pools() -> None:
    # Closed explicitly: the driver's finalizers fail noisily during interpreter shutdown.
    for db in list(_pooling):
        db._close_adbc_pool()


INSUFFICIENT_PRIVILEGE = "42501"  # also a row that row-level security refuses


def _permission_denied(ctx: sa.engine.ExceptionContext) -> BaseException | None:
    """PostgreSQL's refusals (a bucket's role reaching past its bucket) as
    :class:`PermissionDeniedError`, with PostgreSQL's own text."""
    orig = ctx.original_exception
    if getattr(orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
        return PermissionDeniedError(_first_line(orig))
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _adbc_alive(conn: Any) -> bool:
    try:
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1")
            cur.fetchall()
        finally:
            cur.close()
        conn.rollback()
        return True
    except Exception:
        return False


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        pass


def get_database(url: str) -> Database:
    """The shared :class:`Database` for ``url`` (engines are pooled per process)."""
    with _engines_lock:
        db = _engines.get(url)
        if db is None:
            db = _engines[url] = Database(url)
        return db


def forget_database(url: str) -> None:
    """Close and forget the pooled :class:`Database` for ``url`` (a credential retired)."""
    with _engines_lock:
        db = _engines.pop(url, None)
    if db is not None:
        db.dispose()


SQLITE_TIMEOUT = 60.0  # seconds a write waits for another connection's write lock


def _sqlite_timeout(url: sa.URL) -> float:
    """``?timeout=SECONDS`` of a SQLite URL (how long a write waits for the lock), else 60."""
    text = url.query.get("timeout")
    if text is None:
        return SQLITE_TIMEOUT
    try:
        value = float(text if isinstance(text, str) else text[-1])
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise ConfigurationError(
            f"the SQLite URL's timeout={text!r} is not a number of seconds (0 to 86400)"
        )
    return value


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(
                f"cannot create {folder} for the SQLite database: {exc.strerror or exc} "
                "(check OMEGA_DATABASE_URL)"
            ) from exc
    timeout = _sqlite_timeout(url)
    engine = sa.create_engine(url, connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, issue BEGIN so DDL is transactional too
        # (a new table and its metadata row appear together or not at all).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get("omega_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
