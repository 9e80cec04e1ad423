"""Streams on SQLite and PostgreSQL: append/read, follow, consumer groups, retention, bad input."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from omega_jupyter.exceptions import (
    InvalidMessageError,
    InvalidNameError,
    InvalidOffsetError,
    StreamNotFoundError,
    UnsupportedObjectError,
)


def offsets(messages) -> list[int]:
    return [m.offset for m in messages]


def test_put_get_read_round_trip(om) -> None:
    items = [{"a": 1, "b": [1, 2.5, None]}, [1, "two"], "text", 3.25, None, True, {"ü": "ä"}]
    for i, item in enumerate(items, start=1):
        assert om.streams.put(item, "events") == i
    stream = om.streams.get("events")
    got = stream.read()
    assert offsets(got) == list(range(1, len(items) + 1))
    assert [m.data for m in got] == items
    assert all(m.timestamp.tzinfo is not None and m.stream == "events" for m in got)
    assert [m.data for m in stream.read(since=5)] == items[5:]
    assert offsets(stream.read(since=1, limit=2)) == [2, 3]
    assert stream.read(since=100) == []
    assert stream.last_offset() == len(items) and len(stream) == len(items)


def test_dataframe_appends_one_json_message_per_row(om) -> None:
    df = pd.DataFrame(
        {
            "x": [1, 2, 3],
            "y": [0.5, np.nan, 2.0],
            "when": pd.to_datetime(
                ["2024-01-01", None, "2024-01-03 10:00:00"], format="ISO8601", utc=True
            ),
            "label": pd.Series(["a", None, "c"], dtype="string"),
        }
    )
    assert om.streams.put(df, "rows") == 3
    data = [m.data for m in om.streams.get("rows").read()]
    assert data[0] == {"x": 1, "y": 0.5, "when": "2024-01-01T00:00:00.000000Z", "label": "a"}
    assert data[1] == {"x": 2, "y": None, "when": None, "label": None}
    # a meaningful index is kept as a column
    indexed = pd.DataFrame({"v": [1, 2]}, index=pd.Index(["p", "q"], name="key"))
    om.streams.put(indexed, "keyed")
    assert [m.data for m in om.streams.get("keyed").read()] == [
        {"key": "p", "v": 1},
        {"key": "q", "v": 2},
    ]
    # numpy scalars and datetimes are converted the same way
    om.streams.put({"n": np.int64(7), "f": np.float32(1.5), "t": datetime(2024, 5, 1)}, "np")
    assert om.streams.get("np").read()[0].data == {"n": 7, "f": 1.5, "t": "2024-05-01T00:00:00"}


def test_bad_input_is_refused_and_changes_nothing(om) -> None:
    stream = om.streams.create("strict")
    stream.append({"ok": 1})
    for bad in [object(), {"x": float("nan")}, float("inf"), {1, 2}, {"f": lambda: 1}]:
        with pytest.raises(InvalidMessageError):
            stream.append(bad)
    with pytest.raises(InvalidMessageError):
        stream.extend([{"fine": 1}, object()])  # all or nothing
    with pytest.raises(InvalidMessageError):
        om.streams.put(pd.DataFrame([[1, 2]], columns=["a", "a"]), "strict")
    assert offsets(stream.read()) == [1] and stream.last_offset() == 1
    for since in (-1, "1", 1.5, None):
        with pytest.raises(InvalidOffsetError):
            stream.read(since=since)
    with pytest.raises(InvalidOffsetError):
        stream.read(limit=-2)
    with pytest.raises(InvalidOffsetError):
        om.streams.create("bad-retention", max_messages=0)
    with pytest.raises(StreamNotFoundError, match="does not exist"):
        om.streams.get("nope")
    with pytest.raises(StreamNotFoundError):
        om.streams.drop("nope")
    assert om.streams.drop("nope", force=True) is False
    for name in ("", "a[b]", " x", 5):
        with pytest.raises(InvalidNameError):
            om.streams.put({"a": 1}, name)
    with pytest.raises(InvalidMessageError):
        om.streams.put({"x": float("nan")}, "never-made")  # refused input creates nothing
    with pytest.raises(InvalidMessageError):
        om.streams.put({"a": 1}, "never-made", many=True)
    assert om.streams.put([], "empty", many=True) == 0
    assert om.streams.list() == ["empty", "strict"]


def test_nul_text_round_trips_or_is_refused(om) -> None:
    stream = om.streams.create("nul")
    if om.db.is_postgres:  # JSONB cannot hold NUL: a clear error instead of a driver error
        with pytest.raises(InvalidMessageError, match="NUL"):
            stream.append({"s": "a\x00b"})
        assert stream.read() == []
    else:
        stream.append({"s": "a\x00b"})
        assert stream.read()[0].data == {"s": "a\x00b"}


def test_concurrent_appenders_get_distinct_increasing_offsets(om) -> None:
    stream = om.streams.create("busy")
    writers, per_writer = 4, 25
    seen: list[list[int]] = [[] for _ in range(writers)]
    follower_got: list[int] = []
    follow = stream.follow(since=0, timeout=10)

    def follow_all() -> None:
        for m in follow:
            follower_got.append(m.offset)
            if len(follower_got) == writers * per_writer:
                break

    def write(w: int) -> None:
        mine = om.streams.get("busy")
        for i in range(per_writer):
            seen[w].append(mine.append({"w": w, "i": i}))

    reader = threading.Thread(target=follow_all)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader.join(30)
    everything = stream.read()
    assert offsets(everything) == list(range(1, writers * per_writer + 1))
    # each writer's messages keep their order, and the follower saw every offset once, in order
    for w in range(writers):
        assert seen[w] == sorted(seen[w])
        assert [m.data["i"] for m in everything if m.data["w"] == w] == list(range(per_writer))
    assert follower_got == list(range(1, writers * per_writer + 1))


def test_follow_without_group_yields_new_messages_only(om) -> None:
    stream = om.streams.create("live")
    stream.append("old")
    iterator = stream.follow(timeout=5)
    threading.Timer(0.2, lambda: stream.extend(["new1", "new2"])).start()
    got = [next(iterator).data, next(iterator).data]
    assert got == ["new1", "new2"]
    iterator.close()
    # a timeout ends an idle iteration; since= starts earlier
    assert [m.data for m in stream.follow(since=0, timeout=0.2)] == ["old", "new1", "new2"]


def test_consumer_group_resumes_after_its_committed_offset(om) -> None:
    stream = om.streams.create("work")
    stream.extend([{"n": i} for i in range(1, 6)])
    got = []
    for m in stream.follow(group="g", timeout=2):
        got.append(m.offset)
        if len(got) == 3:
            break  # message 3 was handed out but never acknowledged by asking for the next
    assert got == [1, 2, 3]
    assert stream.committed("g") == 2
    # at-least-once: a restarted consumer gets message 3 again, then the rest
    again = [m.offset for m in stream.follow(group="g", timeout=0.3)]
    assert again == [3, 4, 5]
    assert stream.committed("g") == 5
    assert [m.offset for m in stream.follow(group="g", timeout=0.2)] == []
    # other groups are independent; commits only move forward unless seek() is used
    assert [m.offset for m in stream.follow(group="other", timeout=0.2)] == [1, 2, 3, 4, 5]
    stream.commit("g", 1)
    assert stream.committed("g") == 5
    stream.seek("g", 3)
    assert [m.offset for m in stream.follow(group="g", timeout=0.2)] == [4, 5]
    assert stream.groups() == {"g": 5, "other": 5}
    # a consumer that had read everything commits it even when it stops while idle
    stream.append({"n": 6})
    for m in stream.follow(group="g", timeout=0.3):
        assert m.offset == 6
    assert stream.committed("g") == 6
    with pytest.raises(InvalidNameError):
        stream.committed("")


def test_subscribe_in_background_thread(om) -> None:
    stream = om.streams.create("sub")
    got: list[int] = []
    arrived = threading.Event()

    def on_message(m) -> None:
        got.append(m.data)
        if len(got) == 3:
            arrived.set()

    with stream.subscribe(on_message, group="workers") as sub:
        assert sub.running
        stream.extend([1, 2])
        om.streams.put(3, "sub")
        assert arrived.wait(20)
    assert not sub.running and sub.error is None and sub.delivered == 3
    assert got == [1, 2, 3] and stream.committed("workers") == 3


def test_failing_callback_stops_and_its_message_is_redelivered(om) -> None:
    stream = om.streams.create("flaky")
    stream.extend([1, 2, 3])

    def on_message(m) -> None:
        if m.data == 2:
            raise RuntimeError("boom")

    sub = stream.subscribe(on_message, group="g")
    sub._thread.join(20)
    assert isinstance(sub.error, RuntimeError) and not sub.running
    assert stream.committed("g") == 1
    assert [m.data for m in stream.follow(group="g", timeout=0.2)] == [2, 3]


def test_retention_by_count_and_age(om) -> None:
    capped = om.streams.create("capped", max_messages=5)
    for i in range(12):
        capped.append(i)
    assert offsets(capped.read()) == [8, 9, 10, 11, 12]
    assert capped.last_offset() == 12 and len(capped) == 5
    aged = om.streams.create("aged", max_age=0.05)
    aged.extend([1, 2])
    time.sleep(0.1)
    aged.append(3)  # retention on append, or explicitly with prune()
    aged.prune()
    assert [m.data for m in aged.read()] == [3]
    info = {r["name"]: r for r in om.streams.list(raw=True)}
    assert info["capped"]["messages"] == 5 and info["capped"]["max_messages"] == 5
    assert info["aged"]["max_age_seconds"] == pytest.approx(0.05)
    # retention can be changed on an existing stream
    om.streams.create("capped", max_messages=2)
    om.streams.get("capped").prune()
    assert offsets(om.streams.get("capped").read()) == [11, 12]


def test_list_drop_and_dropped_streams(om) -> None:
    for name in ("a/one", "a/two", "b"):
        om.streams.put({"n": name}, name)
    assert om.streams.list() == ["a/one", "a/two", "b"]
    assert om.streams.list("a/*") == ["a/one", "a/two"]
    assert om.streams.exists("b") and not om.streams.exists("c")
    assert om.streams.info("b")["last_offset"] == 1
    stale = om.streams.get("b")
    follower = stale.follow(since=1, timeout=10)
    threading.Timer(0.2, lambda: om.streams.drop("b")).start()
    with pytest.raises(StreamNotFoundError, match="dropped"):
        next(follower)
    with pytest.raises(StreamNotFoundError, match="dropped"):
        stale.append({"late": True})
    with pytest.raises(StreamNotFoundError):
        stale.read()
    assert om.streams.list() == ["a/one", "a/two"]
    # a re-created stream starts again at offset 1
    assert om.streams.put("fresh", "b") == 1


def test_buckets_do_not_share_streams(om) -> None:
    om.streams.put(1, "mine")
    other = om[om.bucket + "x"]
    assert other.streams.list() == []
    other.streams.put(2, "mine")
    assert [m.data for m in om.streams.get("mine").read()] == [1]


def test_to_frame(om) -> None:
    stream = om.streams.create("frame")
    stream.extend([{"a": 1, "timestamp": "mine"}, {"a": 2, "b": "x"}])
    frame = stream.to_frame()
    assert list(frame.index) == [1, 2] and frame.index.name == "offset"
    assert list(frame.columns) == ["a", "timestamp", "b", "_timestamp"]
    assert str(frame["_timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame["_timestamp"].iloc[0] <= pd.Timestamp(datetime.now(UTC))
    scalars = om.streams.create("scalars")
    scalars.extend([1, "two"])
    assert list(scalars.to_frame()["data"]) == [1, "two"]
    assert len(om.streams.create("empty").to_frame()) == 0


def test_lazy_frame_over_messages(om) -> None:
    df = pd.DataFrame(
        {"a": [1, 2, 3], "b": ["u", None, "w"], "f": [0.5, 1.5, None], "ok": [True, False, True]}
    )
    om.streams.put(df, "lazy")
    lazy = om.streams.getl("lazy")
    expected = df.astype({"a": "Int64", "ok": "boolean"}).set_axis(
        pd.Index([1, 2, 3], name="offset")
    )
    pd.testing.assert_frame_equal(lazy.value, expected, check_dtype=False)
    assert list(lazy[lazy.a > 1].value.index) == [2, 3]
    assert lazy.a.sum() == 6
    om.streams.put({"a": 10, "b": "z", "f": 2.0, "ok": False}, "lazy")  # runs on what is there
    assert lazy.a.sum() == 16
    om.streams.put([1, 2], "plain")
    with pytest.raises(UnsupportedObjectError, match="JSON objects"):
        om.streams.getl("plain")
    om.streams.put({"m": 1}, "mixed")
    om.streams.put({"m": "x"}, "mixed")
    with pytest.raises(UnsupportedObjectError, match="one scalar type"):
        om.streams.getl("mixed")


def test_put_after_the_stream_was_dropped_elsewhere_makes_it_anew(om) -> None:
    assert om.streams.put(1, "again") == 1
    assert om.streams.put(2, "again") == 2
    other = om[om.bucket]  # another client of the same bucket
    other.streams.drop("again")
    assert om.streams.put(3, "again") == 1  # no error, no message lost in a dropped stream
    assert [m.data for m in other.streams.get("again").read()] == [3]
