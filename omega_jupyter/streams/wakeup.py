"""How a follower learns that a stream has new messages.

PostgreSQL: a dedicated connection ``LISTEN``s on the stream's channel; appends ``NOTIFY`` in
their own transaction, so the wake-up is sent exactly when the messages become visible. If the
connection drops (server restart, terminated backend), the listener reconnects with backoff and
reports a wake-up so that the follower re-reads whatever it missed meanwhile.

SQLite has no notifications: followers poll at a short interval, and appends made in the same
process wake them at once through a condition variable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

log = logging.getLogger(__name__)

DROP = "drop"  # payload sent when a stream is dropped
RECONNECTED = "reconnected"  # reported after the listener had to reconnect
MAX_BACKOFF = 2.0

_local_lock = threading.Lock()
_local: dict[tuple[str, int], threading.Condition] = defaultdict(
    lambda: threading.Condition(threading.Lock())
)
_local_seq: dict[tuple[str, int], int] = defaultdict(int)


def channel(stream_id: int) -> str:
    """The NOTIFY channel of a stream (an identifier made only of the stream's id)."""
    return f"om_stream_{int(stream_id)}"


def notify_local(url: str, stream_id: int) -> None:
    """Wake followers of this stream in this process (SQLite; harmless elsewhere)."""
    key = (url, int(stream_id))
    with _local_lock:
        cond = _local[key]
        _local_seq[key] += 1
    with cond:
        cond.notify_all()


class PollingWaiter:
    """Waits for an append in this process, or at most ``interval`` seconds."""

    def __init__(self, url: str, stream_id: int, interval: float = 0.05) -> None:
        self.key = (url, int(stream_id))
        self.interval = interval
        with _local_lock:
            self._cond = _local[self.key]
            self._seen = _local_seq[self.key]

    def wait(self, timeout: float) -> set[str]:
        with self._cond:
            if _local_seq[self.key] == self._seen:
                self._cond.wait(min(timeout, self.interval))
            self._seen = _local_seq[self.key]
        return set()

    def select(self, stream_id: int, after: int, limit: int) -> None:
        return None  # followers read through the pool

    def close(self) -> None:
        pass


_SELECT = (
    'SELECT "offset", created, data FROM om_stream_messages '
    'WHERE stream_id = %s AND "offset" > %s ORDER BY "offset" LIMIT %s'
)


class ListenWaiter:
    """A dedicated PostgreSQL connection listening on one stream's channel."""

    def __init__(self, conninfo: str, stream_id: int, application_name: str) -> None:
        self.conninfo = conninfo
        self.channel = channel(stream_id)
        self.application_name = application_name[:63]
        self.conn: Any = None
        self._backoff = 0.05
        self._connect()

    def _connect(self) -> None:
        import psycopg

        self.conn = psycopg.connect(
            self.conninfo, autocommit=True, application_name=self.application_name
        )
        self.conn.execute(f"LISTEN {self.channel}")
        self._backoff = 0.05

    @property
    def backend_pid(self) -> int | None:
        return self.conn.info.backend_pid if self.conn is not None else None

    def wait(self, timeout: float) -> set[str]:
        """Payloads received within ``timeout`` seconds (empty on timeout); ``RECONNECTED``
        when the connection had to be made again (messages may have been missed)."""
        import psycopg

        try:
            if self.conn is None:
                self._connect()
                return {RECONNECTED}
            payloads = {n.payload for n in self.conn.notifies(timeout=timeout, stop_after=1)}
            # Several appends may have queued notifications: take them all in one go.
            if payloads:
                payloads |= {n.payload for n in self.conn.notifies(timeout=0)}
            return payloads
        except psycopg.Error as exc:
            log.warning("stream listener lost its connection (%s); reconnecting", exc)
            self._drop_connection()
            time.sleep(min(self._backoff, timeout))
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
            return set()

    def select(self, stream_id: int, after: int, limit: int) -> list[tuple] | None:
        """(offset, created, data) of the next messages, read on this connection (cheaper
        than a pool checkout); None when it is down (the caller reads through the pool)."""
        import psycopg

        if self.conn is None:
            return None
        try:
            # Notifications that arrive meanwhile are kept in psycopg's backlog for wait().
            return self.conn.execute(_SELECT, (stream_id, after, limit)).fetchall()
        except psycopg.Error as exc:
            log.warning("stream listener lost its connection (%s); reconnecting", exc)
            self._drop_connection()
            return None

    def _drop_connection(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def close(self) -> None:
        self._drop_connection()
