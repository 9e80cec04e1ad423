"""``om streams`` on SQLite and PostgreSQL, in-process and as a real ``om`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omega_jupyter.cli import app


@pytest.fixture
def om_cli(database_url: str, bucket: str):
    runner = CliRunner()

    def run(*args: str, **kw):
        return runner.invoke(app, ["--url", database_url, "--bucket", bucket, *args], **kw)

    return run


def ok(result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def failed(result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    return lines[0]


def test_put_ls_tail_info_drop(om_cli, om) -> None:
    assert ok(om_cli("streams", "put", "events", '{"user": 1}')).strip() == "1"
    assert ok(om_cli("streams", "put", "events", "[1, 2]")).strip() == "2"
    out = ok(om_cli("streams", "put", "events", "-", input='{"a": 1}\n\n"two"\n'))
    assert out.strip() == "4"
    assert [m.data for m in om.streams.get("events").read()] == [
        {"user": 1},
        [1, 2],
        {"a": 1},
        "two",
    ]
    listing = json.loads(ok(om_cli("streams", "ls", "--json")))
    assert [(r["name"], r["last_offset"]) for r in listing] == [("events", 4)]
    assert "events" in ok(om_cli("streams", "ls"))
    lines = ok(om_cli("streams", "tail", "events", "-n", "2")).splitlines()
    assert [line.split("\t")[0] for line in lines] == ["3", "4"]
    assert lines[1].split("\t")[2] == '"two"'
    records = [
        json.loads(x) for x in ok(om_cli("streams", "tail", "events", "--json")).split("\n") if x
    ]
    assert [r["offset"] for r in records] == [1, 2, 3, 4] and records[0]["data"] == {"user": 1}
    # a group reads what it has not committed yet, then nothing
    assert len(ok(om_cli("streams", "tail", "events", "--group", "g")).splitlines()) == 4
    assert ok(om_cli("streams", "tail", "events", "--group", "g")) == ""
    info = json.loads(ok(om_cli("streams", "info", "events", "--json")))
    assert info["groups"] == {"g": 4} and info["messages"] == 4
    assert "dropped events" in ok(om_cli("streams", "drop", "events"))
    assert json.loads(ok(om_cli("streams", "ls", "--json"))) == []


def test_bad_input_is_one_line(om_cli, om) -> None:
    assert "not valid JSON" in failed(om_cli("streams", "put", "s", "{nope"))
    assert "not valid JSON" in failed(om_cli("streams", "put", "s", "-", input='1\n{"x"\n'))
    assert "JSON-serializable" in failed(om_cli("streams", "put", "s", '{"x": NaN}'))
    assert not om.streams.exists("s")  # nothing was created by refused input
    assert "does not exist" in failed(om_cli("streams", "tail", "missing"))
    assert "does not exist" in failed(om_cli("streams", "drop", "missing"))
    assert "reserved for modifiers" in failed(om_cli("streams", "put", "a@b", "1"))


def test_tail_follow_in_a_real_process(database_url: str, bucket: str, om) -> None:
    om.streams.put({"n": 0}, "live")
    env = {**os.environ, "OMEGA_DATABASE_URL": database_url, "OMEGA_BUCKET": bucket}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "om"),
            "streams",
            "tail",
            "live",
            "-f",
            "--timeout",
            "20",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("1\t")
        # the follower is now waiting: new messages reach it while it runs
        threading.Timer(0.3, lambda: om.streams.get("live").extend([{"n": 1}, {"n": 2}])).start()
        got = [proc.stdout.readline(), proc.stdout.readline()]
        assert [json.loads(x.split("\t")[2]) for x in got] == [{"n": 1}, {"n": 2}]
    finally:
        proc.terminate()
        proc.wait(10)
