"""One stream: append, read, follow (blocking iterator), subscribe (background thread)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from omega_jupyter.exceptions import (
    DatabaseUnavailableError,
    InvalidOffsetError,
    StreamNotFoundError,
)
from omega_jupyter.names import validate_name
from omega_jupyter.storage.metadata import aware, now
from omega_jupyter.streams import codec, wakeup
from omega_jupyter.streams.tables import groups, messages, streams

if TYPE_CHECKING:
    import pandas as pd

    from omega_jupyter.streams.store import StreamStore

log = logging.getLogger(__name__)

READ_BATCH = 1000  # messages fetched per query while following
IDLE_CHECK_SECONDS = 1.0  # how often an idle follower checks that its stream still exists
AGE_PRUNE_SECONDS = 1.0  # at most one age-retention delete per second per handle
RETRY_MAX_SECONDS = 2.0


# PostgreSQL appends in one round trip: the UPDATE locks the stream's row until commit (so
# concurrent appenders queue and offsets become visible in order), the messages come as one
# JSON array, and NOTIFY is queued in the same transaction (sent exactly at commit).
_PG_APPEND = sa.text(
    """
    WITH s AS (
        UPDATE om_streams SET last_offset = last_offset + :n WHERE id = :id
        RETURNING last_offset
    ), i AS (
        INSERT INTO om_stream_messages (stream_id, "offset", created, data)
        SELECT :id, s.last_offset - :n + e.ord, :created, e.value
        FROM s, jsonb_array_elements(CAST(:data AS jsonb)) WITH ORDINALITY AS e(value, ord)
    )
    SELECT s.last_offset, pg_notify(:channel, s.last_offset::text) FROM s
    """
).bindparams(sa.bindparam("created", type_=sa.DateTime(timezone=True)))


@dataclass(frozen=True)
class Message:
    """A message as stored: its offset in the stream (1, 2, …), JSON data and append time."""

    offset: int
    data: Any
    timestamp: datetime
    stream: str = ""


class Stream:
    """A handle on one stream of a bucket; get it with ``om.streams.get(name)``."""

    def __init__(self, store: StreamStore, name: str, stream_id: int, row: Any) -> None:
        self.store = store
        self.name = name
        self.id = int(stream_id)
        self.max_messages = row.max_messages
        self.max_age_seconds = row.max_age_seconds
        self._last_age_prune = 0.0

    @property
    def db(self) -> Any:
        return self.store.db

    def __repr__(self) -> str:
        return f"Stream({self.name!r}, bucket={self.store.bucket!r})"

    # -- writing --------------------------------------------------------------------------
    def append(self, item: Any) -> int:
        """Append one JSON-serializable item (a DataFrame: one message per row); returns
        the offset of the last message appended."""
        if codec.is_frame(item):
            return self.extend(codec.frame_records(item))
        return self.extend([item])

    def extend(self, items: Iterable[Any]) -> int:
        """Append several items in one transaction; returns the last offset (unchanged
        offset when ``items`` is empty). Nothing is appended if any item is refused."""
        values = codec.prepare(items, self.db.is_postgres)
        if not values:
            return self.last_offset()
        return self._insert(values)

    def _insert(self, values: list[Any]) -> int:
        created = now()
        count = len(values)
        with self.db.begin() as conn:
            if self.db.is_postgres:
                last = conn.execute(
                    _PG_APPEND,
                    {
                        "id": self.id,
                        "n": count,
                        "created": created,
                        "data": json.dumps(values, ensure_ascii=False),
                        "channel": wakeup.channel(self.id),
                    },
                ).scalar()
                if last is None:
                    raise StreamNotFoundError(f"stream {self.name!r} was dropped")
                self._apply_retention(conn, last)
                return int(last)
            # The UPDATE locks the stream's row until commit: concurrent appenders queue here,
            # so offsets are gap-free and become visible in increasing order.
            last = conn.execute(
                sa.update(streams)
                .where(streams.c.id == self.id)
                .values(last_offset=streams.c.last_offset + count)
                .returning(streams.c.last_offset)
            ).scalar()
            if last is None:
                raise StreamNotFoundError(f"stream {self.name!r} was dropped")
            first = last - count + 1
            conn.execute(
                sa.insert(messages),
                [
                    {"stream_id": self.id, "offset": first + i, "created": created, "data": v}
                    for i, v in enumerate(values)
                ],
            )
            self._apply_retention(conn, last)
        wakeup.notify_local(str(self.db.url), self.id)
        return int(last)

    def _apply_retention(self, conn: Any, last: int) -> None:
        mine = messages.c.stream_id == self.id
        if self.max_messages:
            keep_from = last - int(self.max_messages)
            if keep_from > 0:
                conn.execute(sa.delete(messages).where(mine, messages.c.offset <= keep_from))
        if self.max_age_seconds and time.monotonic() - self._last_age_prune > AGE_PRUNE_SECONDS:
            self._last_age_prune = time.monotonic()
            cutoff = now() - timedelta(seconds=float(self.max_age_seconds))
            conn.execute(sa.delete(messages).where(mine, messages.c.created < cutoff))

    def prune(self) -> int:
        """Apply the stream's retention now; returns the number of messages removed."""
        mine = messages.c.stream_id == self.id
        removed = 0
        with self.db.begin() as conn:
            last = self._require(conn).last_offset
            if self.max_messages:
                keep_from = last - int(self.max_messages)
                removed += conn.execute(
                    sa.delete(messages).where(mine, messages.c.offset <= keep_from)
                ).rowcount
            if self.max_age_seconds:
                cutoff = now() - timedelta(seconds=float(self.max_age_seconds))
                removed += conn.execute(
                    sa.delete(messages).where(mine, messages.c.created < cutoff)
                ).rowcount
        return removed

    # -- reading --------------------------------------------------------------------------
    def read(self, since: int = 0, limit: int | None = None) -> list[Message]:
        """Messages with an offset greater than ``since`` (the last offset already seen),
        oldest first, at most ``limit`` of them."""
        since = _offset(since, "since")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidOffsetError(f"limit must be a non-negative integer, not {limit!r}")
        with self.db.connect() as conn:
            rows = self._select(conn, since, limit)
            if not rows:
                self._require(conn)
        return [self._message(r) for r in rows]

    def _select(self, conn: Any, since: int, limit: int | None) -> list[Any]:
        query = (
            sa.select(messages.c.offset, messages.c.created, messages.c.data)
            .where(messages.c.stream_id == self.id, messages.c.offset > since)
            .order_by(messages.c.offset)
            .limit(limit)
        )
        return list(conn.execute(query))

    def _message(self, row: Any) -> Message:
        return Message(int(row.offset), row.data, aware(row.created), self.name)

    def last_offset(self) -> int:
        """The offset of the newest message ever appended (0 for a new stream)."""
        with self.db.connect() as conn:
            return int(self._require(conn).last_offset)

    def __len__(self) -> int:
        """Messages currently kept (after retention)."""
        with self.db.connect() as conn:
            query = sa.select(sa.func.count()).where(messages.c.stream_id == self.id)
            return int(conn.execute(query).scalar_one())

    def _require(self, conn: Any) -> Any:
        row = conn.execute(sa.select(streams).where(streams.c.id == self.id)).first()
        if row is None:
            raise StreamNotFoundError(f"stream {self.name!r} was dropped")
        return row

    def to_frame(self, since: int = 0, limit: int | None = None) -> pd.DataFrame:
        """Messages as a DataFrame indexed by offset: one column per key when messages are
        JSON objects (else one ``data`` column), plus ``timestamp``."""
        # pandas: not for streams alone
        from omega_jupyter.streams.message_frames import messages_frame

        return messages_frame(self.read(since, limit))

    def getl(self) -> Any:
        """A lazy frame over the messages (see
        :func:`omega_jupyter.streams.message_frames.lazy_frame`)."""
        # pandas: not for streams alone
        from omega_jupyter.streams.message_frames import lazy_frame

        return lazy_frame(self)

    # -- consumer groups ------------------------------------------------------------------
    def committed(self, group: str) -> int:
        """The last offset ``group`` has committed (0 if it never committed)."""
        validate_name(group)
        with self.db.connect() as conn:
            query = sa.select(groups.c.committed).where(
                groups.c.stream_id == self.id, groups.c.group_name == group
            )
            value = conn.execute(query).scalar()
            if value is None:
                self._require(conn)
        return int(value or 0)

    def commit(self, group: str, offset: int) -> None:
        """Record that ``group`` processed every message up to ``offset``. Commits only move
        forward (a late commit of an older offset is ignored); use :meth:`seek` to rewind."""
        self._store_offset(group, _offset(offset, "offset"), forward_only=True)

    def seek(self, group: str, offset: int) -> None:
        """Set ``group``'s committed offset (also backwards, to re-read messages)."""
        self._store_offset(group, _offset(offset, "offset"), forward_only=False)

    def _store_offset(self, group: str, offset: int, forward_only: bool) -> None:
        validate_name(group)
        insert = (postgresql if self.db.is_postgres else sqlite).insert(groups)
        values = {"stream_id": self.id, "group_name": group, "committed": offset, "updated": now()}
        stmt = insert.values(**values)
        new = stmt.excluded.committed
        if forward_only:
            new = sa.case((groups.c.committed > new, groups.c.committed), else_=new)
        stmt = stmt.on_conflict_do_update(
            index_elements=["stream_id", "group_name"],
            set_={"committed": new, "updated": stmt.excluded.updated},
        )
        with self.db.begin() as conn:
            self._require(conn)
            conn.execute(stmt)

    def groups(self) -> dict[str, int]:
        """Consumer groups of this stream and their committed offsets."""
        with self.db.connect() as conn:
            query = sa.select(groups.c.group_name, groups.c.committed).where(
                groups.c.stream_id == self.id
            )
            return {r.group_name: int(r.committed) for r in conn.execute(query)}

    # -- following ------------------------------------------------------------------------
    def follow(
        self,
        group: str | None = None,
        since: int | None = None,
        timeout: float | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Message]:
        """Yield messages as they arrive, blocking in between.

        Starts after ``since`` if given; else, with a ``group``, after its committed offset
        (from the beginning for a new group); else at the end (new messages only). With a
        group, a message counts as processed once the next one is asked for, and offsets are
        committed after each batch and when the iterator is closed (at-least-once: a crash
        re-delivers the messages after the last commit). ``timeout``: stop after that many
        seconds without a message; ``stop``: an event that ends the iteration.
        """
        if group is not None:
            validate_name(group)
        if since is not None:
            position = _offset(since, "since")
        elif group is not None:
            position = self.committed(group)
        else:
            position = self.last_offset()
        return self._follow(position, group, timeout, stop)

    def _follow(
        self, position: int, group: str | None, timeout: float | None, stop: Any
    ) -> Iterator[Message]:
        waiter = self._waiter()
        committed = position
        done = position  # every message up to here was processed (next() was called after it)
        idle_since = time.monotonic()
        last_check = time.monotonic()
        try:
            while stop is None or not stop.is_set():
                batch = self._read_retrying(position, stop, waiter)
                if batch:
                    for message in batch:
                        yield message
                        done = position = message.offset
                        if stop is not None and stop.is_set():
                            return
                    if group is not None:
                        self._commit_retrying(group, done, stop)
                        committed = done
                    idle_since = time.monotonic()
                    continue
                waited = time.monotonic() - idle_since
                if timeout is not None and waited >= timeout:
                    return
                wait_for = 1.0 if stop is None else 0.25
                if timeout is not None:
                    wait_for = min(wait_for, timeout - waited)
                payloads = waiter.wait(max(wait_for, 0.0))
                if wakeup.DROP in payloads or time.monotonic() - last_check > IDLE_CHECK_SECONDS:
                    last_check = time.monotonic()
                    self._check_exists(stop)
        finally:
            waiter.close()
            if group is not None and done > committed:
                try:
                    self.commit(group, done)
                except Exception as exc:  # the stream may be gone; redelivery is allowed
                    log.warning("could not commit offset %s of %s: %s", done, group, exc)

    def _waiter(self) -> Any:
        if not self.db.is_postgres:
            return wakeup.PollingWaiter(str(self.db.url), self.id, self.store.poll_interval)
        conninfo = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            return wakeup.ListenWaiter(conninfo, self.id, f"omega-stream:{self.name}")
        except Exception as exc:
            raise DatabaseUnavailableError(f"cannot listen on {self.db.safe_url}: {exc}") from exc

    def _read_retrying(self, position: int, stop: Any, waiter: Any = None) -> list[Message]:
        """The next batch; waits out a database that is restarting instead of failing."""
        rows = waiter.select(self.id, position, READ_BATCH) if waiter is not None else None
        if rows is not None:  # read on the listening connection: no pool checkout
            return [Message(int(o), d, aware(c), self.name) for o, c, d in rows]
        delay = 0.05
        while True:
            try:
                with self.db.connect() as conn:
                    return [self._message(r) for r in self._select(conn, position, READ_BATCH)]
            except (DatabaseUnavailableError, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and not _is_disconnect(exc):
                    raise
                log.warning("stream %s: database unavailable (%s); retrying", self.name, exc)
                if stop is not None and stop.wait(delay):
                    return []
                if stop is None:
                    time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _commit_retrying(self, group: str, offset: int, stop: Any) -> None:
        """Commit a group's offset; a connection that dies under the commit (a server restart
        while it runs) is retried on a fresh one instead of ending the subscription."""
        delay = 0.05
        while True:
            try:
                self.commit(group, offset)
                return
            except (DatabaseUnavailableError, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and not _is_disconnect(exc):
                    raise
                log.warning("stream %s: commit interrupted (%s); retrying", self.name, exc)
                if stop is not None and stop.wait(delay):
                    return
                if stop is None:
                    time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _check_exists(self, stop: Any) -> None:
        try:
            with self.db.connect() as conn:
                self._require(conn)
        except (DatabaseUnavailableError, DBAPIError) as exc:
            if isinstance(exc, DBAPIError) and not _is_disconnect(exc):
                raise
            # unreachable now: the next read retries until it is back

    def subscribe(
        self,
        callback: Callable[[Message], Any],
        group: str | None = None,
        since: int | None = None,
    ) -> Subscription:
        """Call ``callback(message)`` for each new message in a background thread; returns a
        :class:`Subscription` (``.stop()``). A callback that raises stops the subscription and
        its message is not committed (it is re-delivered to the group)."""
        return Subscription(self, callback, group, since)


class Subscription:
    """A background thread following a stream; stop it with :meth:`stop` (or ``with``)."""

    def __init__(
        self, stream: Stream, callback: Callable[[Message], Any], group: str | None, since: Any
    ) -> None:
        self.stream = stream
        self.callback = callback
        self.error: BaseException | None = None
        self.delivered = 0
        self._stop = threading.Event()
        self._iterator = stream.follow(group=group, since=since, stop=self._stop)
        self._thread = threading.Thread(
            target=self._run, name=f"omega-stream-{stream.name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            for message in self._iterator:
                self.callback(message)
                self.delivered += 1
        except BaseException as exc:  # reported through .error; the thread just ends
            self.error = exc
            log.exception("subscription to stream %s stopped", self.stream.name)
        finally:
            self._iterator.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop following and wait for the thread to end."""
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _offset(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOffsetError(f"{what} must be a non-negative integer offset, not {value!r}")
    return value


def _is_disconnect(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or "connection" in str(exc.orig).lower()
