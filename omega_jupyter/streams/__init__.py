"""Streams: append-only, ordered, durable message logs in the database (``om.streams``).

Every message gets the next offset of its stream (1, 2, 3, …). Offsets are allocated by
raising a per-stream counter in the same transaction that inserts the messages; the counter's
row lock makes concurrent appenders queue, so offsets are gap-free, strictly increasing, and
become visible in offset order — a reader that has seen offset ``n`` never later finds a
message below ``n`` it did not see.

Delivery is **at-least-once** for consumer groups. A group's committed offset lives in the
database; ``follow(group=…)`` and ``subscribe(…, group=…)`` resume after it. A message counts
as processed once the consumer asks for the next one (or its callback returned); offsets are
committed after each batch and when iteration stops. A consumer that crashes re-receives the
messages after its last commit, so processing should be idempotent. Two consumers in the same
group at the same time each receive every message (groups are not partitioned).

Wake-up: PostgreSQL followers ``LISTEN`` on a dedicated connection and appends ``NOTIFY`` in
their transaction (a follower reconnects by itself if that connection drops); SQLite followers
poll every 50 ms (appends in the same process wake them at once).

Retention (``om.streams.create(name, max_messages=…, max_age=…)``) is applied by appends and by
``Stream.prune()``; messages removed by retention are skipped by consumers that had not read them.
"""

from omega_jupyter.streams.store import StreamStore
from omega_jupyter.streams.stream import Message, Stream, Subscription

__all__ = ["Message", "Stream", "StreamStore", "Subscription"]
