"""Streams on PostgreSQL: append and follow throughput, delivery latency vs bare LISTEN/NOTIFY.

Usage: python bench/streams.py [--admin-url URL] [--messages 2000] [--batch 20000] [--samples 300]

Everything runs in a scratch database that is dropped at the end. Printed, measured in the
same run:
  * append, one message per transaction: ``Stream.append`` vs a bare psycopg
    ``INSERT … ; COMMIT`` into a plain JSONB table (messages/s and ratio);
  * append in one batch: ``om.streams.put(DataFrame)`` vs a bare ``executemany`` INSERT;
  * follow (catch-up read of a long stream): ``Stream.follow`` vs a bare ``SELECT`` of all rows;
  * delivery latency, p50/p99: ``append()`` called → the message yielded by a follower in
    another thread (and the append call alone, which that includes), vs a bare
    ``NOTIFY`` → ``LISTEN`` round trip on two connections (target: p99 well under 100 ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import format_table, machine_load

import omega_jupyter

ADMIN_URL = "postgresql+psycopg://root@127.0.0.1:5432/postgres"


def scratch_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    name = f"omega_bench_streams_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(admin_url).set(database=name)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def conninfo(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


# ---------------------------------------------------------------------------------------------
def bench_append(om, raw: psycopg.Connection, n: int) -> tuple[float, float]:
    stream = om.streams.create("append-single")
    raw.execute(
        "CREATE TABLE bare_single (id bigserial PRIMARY KEY, created timestamptz, data jsonb)"
    )
    raw.commit()
    start = time.perf_counter()
    for i in range(n):
        stream.append({"i": i, "user": "u42", "value": 1.5})
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(n):
        raw.execute(
            "INSERT INTO bare_single (created, data) VALUES (now(), %s)",
            [psycopg.types.json.Jsonb({"i": i, "user": "u42", "value": 1.5})],
        )
        raw.commit()
    return ours, time.perf_counter() - start


def bench_batch(om, raw: psycopg.Connection, n: int) -> tuple[float, float]:
    frame = pd.DataFrame(
        {"i": np.arange(n), "user": [f"u{i % 97}" for i in range(n)], "value": np.random.rand(n)}
    )
    om.streams.create("append-batch")
    start = time.perf_counter()
    om.streams.put(frame, "append-batch")
    ours = time.perf_counter() - start
    raw.execute(
        "CREATE TABLE bare_batch (id bigserial PRIMARY KEY, created timestamptz, data jsonb)"
    )
    records = frame.to_dict("records")
    start = time.perf_counter()
    with raw.cursor() as cur:
        cur.executemany(
            "INSERT INTO bare_batch (created, data) VALUES (now(), %s)",
            [[psycopg.types.json.Jsonb(r)] for r in records],
        )
    raw.commit()
    return ours, time.perf_counter() - start


def bench_follow(om, raw: psycopg.Connection, n: int) -> tuple[float, float]:
    stream = om.streams.get("append-batch")
    start = time.perf_counter()
    count = sum(1 for _ in stream.follow(since=0, timeout=0))
    ours = time.perf_counter() - start
    assert count == n, count
    start = time.perf_counter()
    with raw.cursor() as cur:
        cur.execute("SELECT id, created, data FROM bare_batch ORDER BY id")
        rows = cur.fetchall()
    bare = time.perf_counter() - start
    assert len(rows) == n
    return ours, bare


def bench_latency(om, samples: int, pause: float) -> tuple[list[float], list[float]]:
    """append() called → follower thread has the message (same process, same clock)."""
    stream = om.streams.create("latency")
    sent: dict[int, float] = {}
    latencies: list[float] = []
    returned: list[float] = []  # how long append() itself took
    done = threading.Event()
    ready = threading.Event()

    def follow() -> None:
        iterator = stream.follow(timeout=30)
        ready.set()
        for message in iterator:
            latencies.append(time.perf_counter() - sent[message.data["k"]])
            if len(latencies) == samples:
                break
        done.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    ready.wait()
    time.sleep(0.5)  # the follower's first read and LISTEN are in place
    for k in range(samples):
        sent[k] = time.perf_counter()
        stream.append({"k": k})
        returned.append(time.perf_counter() - sent[k])
        time.sleep(pause)
    done.wait(60)
    return latencies, returned


def bench_bare_notify(url: str, samples: int, pause: float) -> list[float]:
    """NOTIFY on one connection → received on a LISTENing one (the floor for any follower)."""
    listener = psycopg.connect(conninfo(url), autocommit=True)
    sender = psycopg.connect(conninfo(url), autocommit=True)
    listener.execute("LISTEN bench_bare")
    sent: dict[str, float] = {}
    latencies: list[float] = []

    def listen() -> None:
        for note in listener.notifies(timeout=60):
            latencies.append(time.perf_counter() - sent[note.payload])
            if len(latencies) == samples:
                break

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.2)
    for k in range(samples):
        sent[str(k)] = time.perf_counter()
        sender.execute("SELECT pg_notify('bench_bare', %s)", [str(k)])
        time.sleep(pause)
    thread.join(60)
    listener.close()
    sender.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--messages", type=int, default=2000, help="single appends")
    parser.add_argument("--batch", type=int, default=20000, help="rows in the batch append")
    parser.add_argument("--samples", type=int, default=300, help="latency samples")
    parser.add_argument("--pause", type=float, default=0.005, help="seconds between sends")
    args = parser.parse_args()
    url, drop = scratch_database(args.admin_url)
    try:
        om = omega_jupyter.setup(url=url, bucket="bench")
        om.streams.list()  # schema created outside the timings
        with psycopg.connect(conninfo(url)) as raw:
            single = bench_append(om, raw, args.messages)
            batch = bench_batch(om, raw, args.batch)
            follow = bench_follow(om, raw, args.batch)
        ours_lat, append_lat = bench_latency(om, args.samples, args.pause)
        bare_lat = bench_bare_notify(url, args.samples, args.pause)
        om.db.dispose()
    finally:
        drop()
    print(f"PostgreSQL streams benchmark ({machine_load()})")
    rows = []
    for label, (ours, bare), n in [
        (f"append, 1 message per transaction (x{args.messages})", single, args.messages),
        (f"append, one batch of {args.batch} (DataFrame rows)", batch, args.batch),
        (f"follow, catch-up over {args.batch}", follow, args.batch),
    ]:
        rows.append([label, rate(n, ours), rate(n, bare), f"{ours / bare:.2f}x"])
    print(format_table(["operation", "om.streams", "bare psycopg", "ratio"], rows))
    lat = []
    for name, values in [
        ("Stream.follow (append → yield)", ours_lat),
        ("bare NOTIFY → LISTEN", bare_lat),
    ]:
        ms = [v * 1000 for v in values]
        lat.append(
            [name, str(len(ms)), f"{statistics.median(ms):.2f} ms", f"{percentile(ms, 99):.2f} ms"]
        )
    ms = [v * 1000 for v in append_lat]
    lat.append(
        [
            "(append() call alone)",
            str(len(ms)),
            f"{statistics.median(ms):.2f} ms",
            f"{percentile(ms, 99):.2f} ms",
        ]
    )
    p50 = statistics.median(ours_lat) / statistics.median(bare_lat)
    p99 = percentile(ours_lat, 99) / percentile(bare_lat, 99)
    print()
    print(format_table(["delivery latency", "samples", "p50", "p99"], lat))
    worst = percentile(ours_lat, 99) * 1000
    verdict = "ok" if worst < 100 else "OVER TARGET"
    print(
        f"\nratios vs bare NOTIFY: p50 {p50:.1f}x, p99 {p99:.1f}x; p99 {worst:.1f} ms "
        f"(target: well under 100 ms: {verdict})"
    )


if __name__ == "__main__":
    main()
