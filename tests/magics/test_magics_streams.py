"""``%om stream put|read|ls`` in a real InteractiveShell, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.magics_shell import make_shell, run, usage_error


@pytest.fixture
def shell(om, database_url, bucket):  # type: ignore[no-untyped-def]
    return make_shell(database_url, bucket)


def test_put_read_and_ls(shell, om) -> None:
    assert run(shell, """%om stream put events {"user": 1, "what": "login"}""") == 1
    assert run(shell, """%om stream put events '{"user": 2, "what": "a b"}'""") == 2
    assert run(shell, "%om stream put events [1, 2]") == 3
    assert run(shell, "%om stream put counts 42") == 1
    assert [m.data for m in om.streams.get("events").read()] == [
        {"user": 1, "what": "login"},
        {"user": 2, "what": "a b"},
        [1, 2],
    ]
    frame = run(shell, "%om stream read counts")
    assert isinstance(frame, pd.DataFrame)
    assert frame["data"].tolist() == [42] and frame.index.tolist() == [1]
    om.streams.put(pd.DataFrame({"x": [1, 2, 3]}), "rows")
    got = run(shell, "%om stream read rows --since 1 --limit 1")
    assert got.index.tolist() == [2] and got["x"].tolist() == [2]
    assert run(shell, "%om stream read rows --since 3").empty
    table = run(shell, "%om stream ls")
    assert table.frame["name"].tolist() == ["counts", "events", "rows"]
    assert table.frame.set_index("name")["last_offset"].to_dict() == {
        "counts": 1,
        "events": 3,
        "rows": 3,
    }
    assert run(shell, "%om stream ls 'e*'").frame["name"].tolist() == ["events"]
    assert "no streams" in run(shell, "%om stream ls 'zz*'")._repr_html_()


def test_bad_input_is_a_one_line_error_and_changes_nothing(shell, om) -> None:
    assert "not valid JSON" in usage_error(shell, "%om stream put events {user: 1}")
    assert not om.streams.exists("events")
    assert "give the message as JSON" in usage_error(shell, "%om stream put events")
    assert "give a stream name" in usage_error(shell, "%om stream read")
    assert "does not exist" in usage_error(shell, "%om stream read nope")
    assert "invalid choice" in usage_error(shell, "%om stream tail events")
    assert "invalid int" in usage_error(shell, "%om stream read events --since x")
    om.streams.put({"a": 1}, "events")
    assert "non-negative" in usage_error(shell, "%om stream read events --limit -1")
    assert "unexpected words" in usage_error(shell, "%om stream read events extra")
    assert "reserved for modifiers" in usage_error(shell, """%om stream put x@1 {"a": 1}""")
    assert [m.data for m in om.streams.get("events").read()] == [{"a": 1}]
