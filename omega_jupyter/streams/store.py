"""``om.streams``: create, list, drop streams of a bucket; ``put`` appends."""

from __future__ import annotations

import fnmatch
from datetime import timedelta
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from omega_jupyter.exceptions import (
    InvalidMessageError,
    InvalidOffsetError,
    StreamNotFoundError,
)
from omega_jupyter.names import validate_name
from omega_jupyter.settings import Settings
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import aware, now, validate_attributes
from omega_jupyter.streams import codec, wakeup
from omega_jupyter.streams.stream import Stream
from omega_jupyter.streams.tables import groups, messages, streams

POLL_INTERVAL = 0.05  # seconds between polls of a SQLite follower


class StreamStore:
    """The streams of one bucket."""

    def __init__(self, db: Database, bucket: str, settings: Settings) -> None:
        self.db = db
        self.bucket = bucket
        self.settings = settings
        self.poll_interval = POLL_INTERVAL
        # Handles used by put(), so appending in a loop is one transaction per call.
        self._handles: dict[str, Stream] = {}

    @cached_property
    def datasets(self) -> Any:
        """The bucket's dataset store (lazy frames over streams run through its bulk path)."""
        from omega_jupyter.datasets import DatasetStore  # pandas, pyarrow: only getl needs them

        return DatasetStore(self.db, self.bucket, self.settings)

    def __repr__(self) -> str:
        return f"StreamStore(bucket={self.bucket!r}, db={self.db.safe_url!r})"

    # -- streams --------------------------------------------------------------------------
    def create(
        self,
        name: str,
        max_messages: int | None = None,
        max_age: float | timedelta | None = None,
        attributes: dict | None = None,
    ) -> Stream:
        """The stream ``name``, created if missing. Retention: keep at most ``max_messages``
        and/or drop messages older than ``max_age`` (seconds or a timedelta). Given for an
        existing stream, they replace its retention."""
        validate_name(name)
        limit = _positive(max_messages, "max_messages")
        age = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
        age = _positive(age, "max_age")
        attributes = validate_attributes(attributes, self.db.is_postgres)
        self.db.ensure_schema()
        retention = {"max_messages": limit, "max_age_seconds": age}
        with self.db.begin() as conn:
            row = self._row(conn, name)
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            sa.insert(streams).values(
                                bucket=self.bucket,
                                name=name,
                                created=now(),
                                last_offset=0,
                                attributes=attributes or {},
                                **retention,
                            )
                        )
                except IntegrityError:
                    pass  # created concurrently by another client: use that one
            elif limit is not None or age is not None or attributes is not None:
                changes = {k: v for k, v in retention.items() if v is not None}
                if attributes is not None:
                    changes["attributes"] = attributes
                conn.execute(sa.update(streams).where(streams.c.id == row.id).values(**changes))
            row = self._row(conn, name)
        stream = self._handles[name] = Stream(self, name, row.id, row)
        return stream

    def get(self, name: str, create: bool = False) -> Stream:
        """The stream ``name``; missing: :class:`StreamNotFoundError`, or made with ``create``."""
        if create:
            return self.create(name)
        validate_name(name)
        self.db.ensure_schema()
        with self.db.connect() as conn:
            row = self._row(conn, name)
        if row is None:
            raise StreamNotFoundError(
                f"stream {name!r} does not exist in bucket {self.bucket!r} "
                "(om.streams.put(item, name) or om.streams.create(name) makes it)"
            )
        return Stream(self, name, row.id, row)

    def put(self, obj: Any, name: str, many: bool = False) -> int:
        """Append ``obj`` (a DataFrame: one message per row; ``many=True``: each item of an
        iterable) to ``name``, creating the stream on first use; returns the offset of the
        last message appended. Refused input changes nothing (not even creates the stream)."""
        validate_name(name)
        if codec.is_frame(obj):
            items = codec.frame_records(obj)
        elif many:
            if isinstance(obj, str | bytes | dict) or not hasattr(obj, "__iter__"):
                raise InvalidMessageError("many=True needs a list (or iterable) of messages")
            items = list(obj)
        else:
            items = [obj]
        values = codec.prepare(items, self.db.is_postgres)
        stream = self._handles.get(name)
        if stream is not None and values:
            try:
                return stream._insert(values)
            except StreamNotFoundError:
                pass  # dropped (maybe by another client) since: make it anew
        stream = self.create(name)
        return stream._insert(values) if values else stream.last_offset()

    def getl(self, name: str) -> Any:
        """A lazy frame over the messages of ``name`` (see :meth:`Stream.getl`)."""
        return self.get(name).getl()

    def exists(self, name: str) -> bool:
        validate_name(name)
        self.db.ensure_schema()
        with self.db.connect() as conn:
            return self._row(conn, name) is not None

    def list(self, pattern: str | None = None, raw: bool = False) -> list[Any]:
        """Names of the bucket's streams (matching a glob ``pattern``); ``raw=True``: dicts
        with name, last offset, messages kept, retention and creation time."""
        self.db.ensure_schema()
        counts = (
            sa.select(messages.c.stream_id, sa.func.count().label("n"))
            .group_by(messages.c.stream_id)
            .subquery()
        )
        query = (
            sa.select(streams, sa.func.coalesce(counts.c.n, 0).label("messages"))
            .select_from(streams.outerjoin(counts, counts.c.stream_id == streams.c.id))
            .where(streams.c.bucket == self.bucket)
            .order_by(streams.c.name)
        )
        with self.db.connect() as conn:
            rows = [r for r in conn.execute(query) if _matches(r.name, pattern)]
        if not raw:
            return [r.name for r in rows]
        return [_info(r) for r in rows]

    def info(self, name: str) -> dict[str, Any]:
        """What :meth:`list` with ``raw=True`` says about one stream, plus its groups."""
        stream = self.get(name)
        found = [r for r in self.list(raw=True) if r["name"] == name]
        if not found:
            raise StreamNotFoundError(f"stream {name!r} does not exist")
        return {**found[0], "groups": stream.groups()}

    def drop(self, name: str, force: bool = False) -> bool:
        """Remove a stream with its messages and group offsets; followers get
        :class:`StreamNotFoundError`. Missing: error, or False with ``force=True``."""
        validate_name(name)
        self.db.ensure_schema()
        with self.db.begin() as conn:
            self._handles.pop(name, None)
            row = self._row(conn, name)
            if row is None:
                if force:
                    return False
                raise StreamNotFoundError(f"stream {name!r} does not exist")
            conn.execute(sa.delete(messages).where(messages.c.stream_id == row.id))
            conn.execute(sa.delete(groups).where(groups.c.stream_id == row.id))
            conn.execute(sa.delete(streams).where(streams.c.id == row.id))
            if self.db.is_postgres:
                conn.execute(sa.select(sa.func.pg_notify(wakeup.channel(row.id), wakeup.DROP)))
        if not self.db.is_postgres:
            wakeup.notify_local(str(self.db.url), row.id)
        return True

    def _row(self, conn: Any, name: str) -> Any:
        query = sa.select(streams).where(streams.c.bucket == self.bucket, streams.c.name == name)
        return conn.execute(query).first()


def _positive(value: Any, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidOffsetError(f"{what} must be a positive number, not {value!r}")
    return value


def _matches(name: str, pattern: str | None) -> bool:
    return pattern is None or fnmatch.fnmatchcase(name, pattern)


def _info(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "last_offset": int(row.last_offset),
        "messages": int(row.messages),
        "max_messages": row.max_messages,
        "max_age_seconds": row.max_age_seconds,
        "created": aware(row.created).isoformat(),
        "attributes": dict(row.attributes or {}),
    }
