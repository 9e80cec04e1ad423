"""The sweep: find and drop data tables and blobs that no object version references.

Why they exist: a dataset version's rows are loaded into a new table that becomes visible
(committed) before the version row pointing at it commits, and a replaced version's table is
dropped after the new version commits. A writer killed between those commits, or a drop that
gave up waiting for readers, leaves a ``t_…`` table that nothing references.

The promise: the sweep never drops a table or blob that a committed version references or
that a write in flight is about to reference. How it keeps it:

- **Tables** carry the time they became visible in their name (``t_<UTC stamp>_<hex>``, see
  :func:`~omega_jupyter.storage.bulk.new_table_name`): a load renames its table with a fresh
  stamp in the transaction that commits it. A write in flight therefore either has a table
  nobody else can see yet (uncommitted), or one stamped less than the grace period ago (its
  version commit follows within milliseconds). Only unreferenced tables older than the grace
  period are dropped, each in its own transaction that checks the reference again first.
  Tables named before stamps existed (``t_<hex>``) count as old.
- **Blobs** are written in the same transaction as the version row that references them, so
  an unreferenced committed blob has no writer to wait for; they are deleted by one statement
  whose snapshot sees a blob and its reference together or neither.

Run it on demand (``om db gc [--dry-run] [--grace 1h]``); the scheduler loop runs it hourly
(:class:`PeriodicSweep`). It must see every bucket's version rows to know what is referenced:
run it with the service's credentials, never a bucket's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.names import bucket_schema_name
from omega_jupyter.storage.bulk import is_data_table, table_stamp
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.schema import blob_chunks, objects

DEFAULT_GRACE = timedelta(hours=1)
SWEEP_EVERY = timedelta(hours=1)
DROP_LOCK_TIMEOUT = "5s"
_OLD = datetime.min.replace(tzinfo=UTC)
log = logging.getLogger("omega_jupyter.gc")


@dataclass
class SweptTable:
    schema: str | None
    name: str
    bytes: int
    created: datetime | None  # None: named before tables carried their time


@dataclass
class SweptBlob:
    blob_id: str
    bytes: int
    chunks: int


@dataclass
class SweepReport:
    """What a sweep found unreferenced and (unless ``dry_run``) freed."""

    dry_run: bool
    grace_seconds: float
    tables: list[SweptTable] = field(default_factory=list)
    blobs: list[SweptBlob] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # tables still in use: left for next time

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.tables) + sum(b.bytes for b in self.blobs)

    def to_dict(self) -> dict:
        data = asdict(self)
        for table in data["tables"]:
            table["created"] = table["created"].isoformat() if table["created"] else None
        data["bytes"] = self.bytes
        return data

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (
            f"{verb} {len(self.tables)} data table(s) and {len(self.blobs)} blob(s), "
            f"{self.bytes:,} bytes"
        )


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d`` or plain seconds as a :class:`timedelta`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if match is None:
        raise ValueError(f"cannot read duration {text!r}: use e.g. 90s, 15m, 1h or 2d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    return timedelta(seconds=float(match[1]) * unit)


def sweep(
    db: Database,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
    buckets: list[str] | None = None,
) -> SweepReport:
    """Drop the data tables and blobs no object version references (tables only when they
    became visible more than ``grace`` ago); with ``dry_run``, only list them.

    ``buckets`` limits the tables looked at to those buckets' schemas (PostgreSQL); blobs
    are looked at in every bucket. Returns what was (or would be) freed.
    """
    db.ensure_schema()
    report = SweepReport(dry_run=dry_run, grace_seconds=grace.total_seconds())
    cutoff = datetime.now(UTC) - grace
    for table in _unreferenced_tables(db, buckets):
        if (table.created or _OLD) > cutoff:
            continue  # a write in flight, or too recent to tell
        if dry_run or _drop_table(db, table):
            report.tables.append(table)
        else:
            report.skipped.append(table.name)
    report.blobs = _sweep_blobs(db, dry_run)
    if report.tables or report.blobs:
        log.info("sweep: %s", report.summary())
    return report


# -- tables ---------------------------------------------------------------------------------
def _unreferenced_tables(db: Database, buckets: list[str] | None) -> list[SweptTable]:
    with db.connect() as conn:
        physical = _pg_tables(conn, buckets) if db.is_postgres else _sqlite_tables(conn)
        # Read after listing: a table whose version commits in between is seen referenced.
        referenced = _references(conn, db.is_postgres)
    return [t for t in physical if (t.schema, t.name) not in referenced]


def _references(conn: Connection, postgres: bool) -> set[tuple[str | None, str]]:
    rows = conn.execute(
        sa.select(objects.c.bucket, objects.c.location)
        .where(objects.c.location.is_not(None))
        .distinct()
    )
    return {(bucket_schema_name(b) if postgres else None, loc) for b, loc in rows}


def _pg_tables(conn: Connection, buckets: list[str] | None) -> list[SweptTable]:
    query = sa.text(
        "SELECT n.nspname, c.relname, pg_total_relation_size(c.oid) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname LIKE 'omb\\_%' AND c.relname LIKE 't\\_%'"
    )
    schemas = {bucket_schema_name(b) for b in buckets} if buckets is not None else None
    return [
        SweptTable(schema, name, int(size or 0), table_stamp(name))
        for schema, name, size in conn.execute(query)
        if is_data_table(name) and (schemas is None or schema in schemas)
    ]


def _sqlite_tables(conn: Connection) -> list[SweptTable]:
    names = conn.execute(
        sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'"
        )
    ).scalars()
    tables = [SweptTable(None, n, 0, table_stamp(n)) for n in names if is_data_table(n)]
    try:  # the dbstat table exists when SQLite was built with it
        for table in tables:
            size = conn.execute(
                sa.text("SELECT SUM(pgsize) FROM dbstat WHERE name = :n"), {"n": table.name}
            ).scalar()
            table.bytes = int(size or 0)
    except sa.exc.OperationalError:
        pass
    return tables


def _drop_table(db: Database, table: SweptTable) -> bool:
    """Drop ``table`` unless a version references it by now; False if it is still being read
    (it is left for the next sweep)."""
    qualified = (
        _quote(table.name)
        if table.schema is None
        else f"{_quote(table.schema)}.{_quote(table.name)}"
    )
    try:
        with db.begin() as conn:
            if db.is_postgres:
                conn.execute(sa.text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
            if conn.execute(
                sa.select(sa.literal(1)).where(objects.c.location == table.name).limit(1)
            ).first():
                return False
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {qualified}"))
    except sa.exc.DBAPIError as exc:  # still read (lock timeout), or not ours to drop
        log.warning("sweep: %s left for the next sweep (%s)", qualified, exc)
        return False
    return True


# -- blobs ----------------------------------------------------------------------------------
def _unreferenced_blob() -> sa.ColumnElement[bool]:
    return ~sa.exists().where(objects.c.location == blob_chunks.c.blob_id)


def _sweep_blobs(db: Database, dry_run: bool) -> list[SweptBlob]:
    found = sa.select(
        blob_chunks.c.blob_id,
        sa.func.coalesce(sa.func.sum(sa.func.length(blob_chunks.c.data)), 0),
        sa.func.count(),
    ).where(_unreferenced_blob())
    found = found.group_by(blob_chunks.c.blob_id)
    with db.connect() as conn:
        blobs = [SweptBlob(b, int(n), int(c)) for b, n, c in conn.execute(found)]
    if dry_run or not blobs:
        return blobs
    ids = [b.blob_id for b in blobs]
    with db.begin() as conn:
        # Checked again in the deleting statement itself: its snapshot sees a blob and the
        # version row written with it together, or neither.
        for start in range(0, len(ids), 500):
            conn.execute(
                sa.delete(blob_chunks).where(
                    blob_chunks.c.blob_id.in_(ids[start : start + 500]), _unreferenced_blob()
                )
            )
    return blobs


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- automatic ------------------------------------------------------------------------------
class PeriodicSweep:
    """Runs :func:`sweep` at most once every ``every`` (the first time on the first call);
    failures are logged, never raised: a sweep is housekeeping."""

    def __init__(
        self, db: Database, every: timedelta = SWEEP_EVERY, buckets: list[str] | None = None
    ) -> None:
        self.db = db
        self.every = every
        self.buckets = buckets
        self._last: datetime | None = None

    def maybe_run(self, now: datetime) -> SweepReport | None:
        if self._last is not None and abs(now - self._last) < self.every:
            return None
        self._last = now
        try:
            return sweep(self.db, buckets=self.buckets)
        except Exception as exc:
            log.warning("sweep failed: %s", exc)
            return None
