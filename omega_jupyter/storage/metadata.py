"""Object metadata: one row per object version, looked up by (bucket, store, name, version)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from omega_jupyter.exceptions import (
    ConcurrentWriteError,
    ObjectNotFoundError,
    UnsupportedObjectError,
)
from omega_jupyter.names import ObjectRef
from omega_jupyter.storage import audit
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.schema import objects


@dataclass
class Metadata:
    """What the store knows about one version of one object."""

    name: str
    kind: str
    version: int
    bucket: str
    store: str
    created: datetime
    modified: datetime
    size: int = 0
    location: str | None = None
    kind_meta: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    created_by: str | None = None  # key:<id>, jupyter:<user> or os:<login> (storage/audit.py)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created"] = self.created.isoformat()
        data["modified"] = self.modified.isoformat()
        return data

    @classmethod
    def from_row(cls, row: Any) -> Metadata:
        m = row._mapping
        return cls(
            id=m["id"],
            bucket=m["bucket"],
            store=m["store"],
            name=m["name"],
            version=m["version"],
            kind=m["kind"],
            created=aware(m["created"]),
            modified=aware(m["modified"]),
            size=m["size"],
            location=m["location"],
            kind_meta=dict(m["kind_meta"] or {}),
            attributes=dict(m["attributes"] or {}),
            created_by=m.get("created_by"),
        )


def validate_attributes(attributes: object, postgres: bool) -> dict[str, Any] | None:
    """Return ``attributes`` if they can be stored as JSON, else raise a clear error."""
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise UnsupportedObjectError(f"attributes must be a dict, not {type(attributes).__name__}")
    try:
        json.dumps(attributes, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UnsupportedObjectError(f"attributes must be JSON-serializable: {exc}") from exc
    if postgres and contains_nul(attributes):
        raise UnsupportedObjectError("attributes contain a NUL character ('\\x00')")
    return attributes


def contains_nul(value: Any) -> bool:
    """True if a JSON value holds NUL anywhere (PostgreSQL's JSONB cannot store it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


def merge_attributes(current: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The one attribute rule of every write (new version, append): ``None`` keeps the current
    attributes, ``{}`` resets them, a non-empty dict is merged into them (its keys win)."""
    if given is None:
        return dict(current)
    if given == {}:
        return {}
    return {**current, **given}


def aware(value: datetime) -> datetime:
    """``value`` with UTC as its time zone if it has none (SQLite returns naive datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


class MetadataStore:
    """Metadata rows of one store (``datasets``, ``models`` …) in one bucket."""

    def __init__(self, db: Database, bucket: str, store: str) -> None:
        self.db = db
        self.bucket = bucket
        self.store = store

    def _where(self, name: str | None = None) -> sa.ColumnElement[bool]:
        cond = (objects.c.bucket == self.bucket) & (objects.c.store == self.store)
        if name is not None:
            cond &= objects.c.name == name
        return cond

    # -- reads ----------------------------------------------------------------------------
    def versions(self, name: str, conn: Connection | None = None) -> list[Metadata]:
        """All kept versions of ``name``, oldest first (empty if none)."""
        query = sa.select(objects).where(self._where(name)).order_by(objects.c.version)
        return [Metadata.from_row(r) for r in self._run(query, conn)]

    def latest(self, name: str, conn: Connection | None = None) -> Metadata | None:
        query = (
            sa.select(objects).where(self._where(name)).order_by(objects.c.version.desc()).limit(1)
        )
        rows = self._run(query, conn)
        return Metadata.from_row(rows[0]) if rows else None

    def resolve(self, ref: ObjectRef, conn: Connection | None = None) -> Metadata:
        """The version ``ref`` points at; raise :class:`ObjectNotFoundError` if there is none."""
        if ref.version is None and ref.tag is None and not ref.previous:
            meta = self.latest(ref.name, conn)
            if meta is None:
                raise ObjectNotFoundError(f"{self.store[:-1]} {ref.name!r} does not exist")
            return meta
        kept = self.versions(ref.name, conn)
        if not kept:
            raise ObjectNotFoundError(f"{self.store[:-1]} {ref.name!r} does not exist")
        if ref.version is not None:
            for meta in kept:
                if meta.version == ref.version:
                    return meta
            have = ", ".join(str(m.version) for m in kept)
            raise ObjectNotFoundError(
                f"{self.store[:-1]} {ref.name!r} has no version {ref.version} (kept: {have})"
            )
        if ref.previous:
            if len(kept) < 2:
                raise ObjectNotFoundError(f"{self.store[:-1]} {ref.name!r} has no previous version")
            return kept[-2]
        for meta in reversed(kept):
            if ref.tag in meta.attributes.get("tags", []):
                return meta
        raise ObjectNotFoundError(
            f"{self.store[:-1]} {ref.name!r} has no version tagged {ref.tag!r}"
        )

    def list(self, pattern: str | None = None) -> list[Metadata]:
        """The latest version of every object whose name matches the glob ``pattern``."""
        latest = (
            sa.select(objects.c.name, sa.func.max(objects.c.version).label("version"))
            .where(self._where())
            .group_by(objects.c.name)
            .subquery()
        )
        query = (
            sa.select(objects)
            .join(
                latest,
                (objects.c.name == latest.c.name) & (objects.c.version == latest.c.version),
            )
            .where(self._where())
            .order_by(objects.c.name)
        )
        metas = [Metadata.from_row(r) for r in self._run(query, None)]
        if pattern:
            metas = [m for m in metas if fnmatch.fnmatchcase(m.name, pattern)]
        return metas

    def _run(self, query: sa.Executable, conn: Connection | None) -> list[Any]:
        if conn is not None:
            return list(conn.execute(query))
        self.db.ensure_schema()
        with self.db.connect() as c:
            return list(c.execute(query))

    # -- writes ---------------------------------------------------------------------------
    def add_version(
        self,
        conn: Connection,
        name: str,
        kind: str,
        *,
        location: str | None,
        kind_meta: dict[str, Any],
        attributes: dict[str, Any] | None,
        size: int,
        keep: int | None,
        drop_physical: Callable[[Connection, Metadata], None],
    ) -> Metadata:
        """Make a new version visible inside ``conn``'s transaction.

        ``attributes`` apply to the previous version's by :func:`merge_attributes`.
        When ``keep`` is set, versions beyond the newest ``keep`` are removed with
        ``drop_physical`` in the same transaction. Raises :class:`ConcurrentWriteError`
        (the caller retries) when another writer took the same version number first.
        """
        previous = self.latest(name, conn)
        carried = dict(previous.attributes) if previous else {}
        carried.pop("tags", None)  # tags point at one version; they never carry over
        merged = merge_attributes(carried, attributes)
        stamp = now()
        meta = Metadata(
            name=name,
            kind=kind,
            version=(previous.version + 1) if previous else 1,
            bucket=self.bucket,
            store=self.store,
            created=stamp,
            modified=stamp,
            size=size,
            location=location,
            kind_meta=kind_meta,
            attributes=merged,
            created_by=audit.current_actor(),
        )
        values = {k: v for k, v in meta.__dict__.items() if k != "id"}
        try:
            with conn.begin_nested():
                meta.id = conn.execute(
                    sa.insert(objects).values(**values).returning(objects.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise ConcurrentWriteError(f"another writer created {name!r} concurrently") from exc
        if keep is not None:
            for old in self.versions(name, conn)[:-keep]:
                self.delete_version(conn, old, drop_physical)
        return meta

    def update(self, conn: Connection, meta: Metadata, **values: Any) -> None:
        values.setdefault("modified", now())
        conn.execute(sa.update(objects).where(objects.c.id == meta.id).values(**values))
        for key, value in values.items():
            setattr(meta, key, value)

    def lock_latest(self, conn: Connection, name: str) -> Metadata | None:
        """The latest version, locked against concurrent writers until the transaction ends."""
        query = (
            sa.select(objects).where(self._where(name)).order_by(objects.c.version.desc()).limit(1)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        return Metadata.from_row(row) if row else None

    def delete_version(
        self,
        conn: Connection,
        meta: Metadata,
        drop_physical: Callable[[Connection, Metadata], None],
    ) -> None:
        conn.execute(sa.delete(objects).where(objects.c.id == meta.id))
        drop_physical(conn, meta)
