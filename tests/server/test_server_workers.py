"""``om serve --workers N``: worker processes sharing one port, on SQLite and PostgreSQL.

A real ``om serve --workers 2``: both workers answer (``X-Om-Worker`` names the pid), each
reads the database itself, a worker that dies is started again, and SIGTERM to the parent (or
the parent's death) leaves no worker behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests

from omega_jupyter.client import Omega
from omega_jupyter.server.apikeys import ApiKeyService
from omega_jupyter.server.standalone import default_workers
from omega_jupyter.server.workers import WorkersFailed, cpu_count, run_workers


class Served:
    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc = proc
        self.url = url

    def children(self) -> set[int]:
        return _children(self.proc.pid)


def _children(parent: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env.update(OMEGA_DATABASE_URL=database_url, OMEGA_HOME=str(tmp_path))
    cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", "0", "--workers", "2"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        match = None
        while match is None and proc.stderr:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1 \(2 worker processes\)", line)
        assert match, f"server did not start: {''.join(lines)}"
        if database_url.startswith("sqlite"):  # more than one writer on SQLite is called out
            assert "one writer at a time" in "".join(lines)
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        yield Served(proc, f"http://127.0.0.1:{match[1]}/api/v1")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def _pids(url: str, headers: dict | None = None, want: int = 2, tries: int = 400) -> set[int]:
    """Worker pids seen answering ``url`` (new connections, 4 at a time)."""
    seen: set[int] = set()

    def one(_: int) -> None:
        if len(seen) >= want:
            return
        r = requests.get(url, headers=headers or {}, timeout=60)
        assert r.status_code == 200, r.text
        seen.add(int(r.headers["X-Om-Worker"]))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(tries)))
    return seen


def test_two_workers_answer_read_the_database_and_stop_with_the_parent(
    served: Served, om: Omega, bucket: str, database_url: str
) -> None:
    om.datasets.put(pd.DataFrame({"x": [1, 2, 3]}), "shared")
    key = ApiKeyService(om.db).create(name="workers", buckets=[bucket])[1]
    assert _wait(lambda: len(served.children()) == 2)
    workers = served.children()

    pids = _pids(f"{served.url}/datasets", {"Authorization": f"Bearer {key}"})
    assert pids == workers  # both answer, and they are the parent's children
    for _ in range(6):  # every worker reads the same database
        r = requests.get(f"{served.url}/datasets", headers={"Authorization": f"Bearer {key}"})
        assert [d["name"] for d in r.json()["items"]] == ["shared"]

    # A worker that dies is started again; the others keep serving.
    victim = sorted(workers)[0]
    os.kill(victim, signal.SIGKILL)

    def replaced_and_answering() -> bool:
        kids = served.children()
        return len(kids) == 2 and victim not in kids and _pids(f"{served.url}/ping") == kids

    assert _wait(replaced_and_answering)
    replaced = served.children()

    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=60) == 0
    assert not [pid for pid in workers | replaced if _alive(pid)]


def test_workers_die_with_a_killed_parent(served: Served) -> None:
    assert _wait(lambda: len(served.children()) == 2)
    workers = served.children()
    served.proc.kill()  # no chance to stop them: they notice on their own
    served.proc.wait(timeout=30)
    assert _wait(lambda: not [pid for pid in workers if _alive(pid)], timeout=30)


def test_default_workers_one_per_core_but_one_on_sqlite(om: Omega, database_url: str) -> None:
    expected = 1 if database_url.startswith("sqlite") else cpu_count()
    assert default_workers(om) == expected


def _crash(_slot: int) -> None:
    raise RuntimeError("boom")


def test_crash_looping_workers_stop_the_server_with_a_clear_error() -> None:
    lines: list[str] = []
    before = _children(os.getpid())  # this test process may hold others (a Dask cluster's)
    with pytest.raises(WorkersFailed, match="deaths within a minute"):
        run_workers(2, _crash, log=lines.append, restarts_per_minute=3)
    assert any("starting it again" in line for line in lines)
    assert "exited with code 1" in lines[0]
    assert _children(os.getpid()) <= before  # no worker left behind
