"""Bad input to a real ``om serve`` answers a JSON 4xx, never a bare 500, on SQLite and
PostgreSQL: deep JSON, filter values a column cannot hold, too many columns, JSON sent as CSV,
records without fields, bodies over the limit (413, not a reset connection); and a database
session terminated mid-request answers 503, not 500."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import requests
import sqlalchemy as sa

from omega_jupyter.server.apikeys import ApiKeyService
from omega_jupyter.storage.engine import get_database

MAX_BODY_MB = 1


class Server:
    def __init__(self, url: str, database_url: str) -> None:
        self.url = url
        self.database_url = database_url

    def headers(self) -> dict[str, str]:
        """Authorization for a new key of a new bucket."""
        db = get_database(self.database_url)
        key = ApiKeyService(db).create(name="test", buckets=[f"b{uuid.uuid4().hex[:8]}"])[1]
        return {"Authorization": f"Bearer {key}"}


def start_server(database_url: str, home: str) -> tuple[subprocess.Popen, Server]:
    """``om serve`` on a free port; its log goes to ``home/serve.log`` (a pipe nobody reads
    would fill up and stall the server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env.update(OMEGA_DATABASE_URL=database_url, OMEGA_HOME=home)
    cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()", "serve"]
    args = ["--host", "127.0.0.1", "--port", "0", "--max-body-mb", str(MAX_BODY_MB)]
    log_path = os.path.join(home, "serve.log")
    os.makedirs(home, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*cmd, *args], env=env, stderr=log)
    deadline = time.monotonic() + 180
    while True:
        with open(log_path) as log:
            match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", log.read())
        if match or proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if not match:
        proc.terminate()
        raise AssertionError(f"server did not start (see {log_path})")
    proc.log_path = log_path  # type: ignore[attr-defined]
    return proc, Server(f"http://127.0.0.1:{match[1]}/api/v1", database_url)


def stop_server(proc: subprocess.Popen) -> str:
    """Stop the server; its log."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with open(proc.log_path) as log:  # type: ignore[attr-defined]
        return log.read()


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    proc, srv = start_server(database_url, str(tmp_path_factory.mktemp("serve_home")))
    try:
        yield srv
    finally:
        stop_server(proc)


def _assert_json_error(r: requests.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, (r.request.method, r.request.url[:120], r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "message"}, body
    if code is not None:
        assert body["error"] == code, body


def test_deeply_nested_json_bodies_are_400(server: Server) -> None:
    h = {**server.headers(), "Content-Type": "application/json"}
    for method, path, body in [
        ("PUT", "datasets/deep", b"[" * 100_000),
        ("POST", "streams/deep", b"[" * 5000),
        ("POST", "streams/deep", b"[" * 1000 + b"]" * 1000),  # well-formed, still too deep
        ("PUT", "datasets/deep", b'[{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}]"),
    ]:
        r = requests.request(method, f"{server.url}/{path}", data=body, headers=h)
        _assert_json_error(r, 400, "bad_request")
        assert "deep" in r.json()["message"]
    # moderately nested messages are still stored and read back as sent
    message = {"a": [[[{"b": [1, 2]}]]]}
    r = requests.post(f"{server.url}/streams/deep", json=message, headers=h)
    assert r.status_code == 201, r.text
    r = requests.get(f"{server.url}/streams/deep", headers=h)
    assert [m["data"] for m in r.json()["messages"]] == [message]


def test_filter_values_the_column_cannot_hold_are_400(server: Server) -> None:
    h = server.headers()
    rows = [{"x": 1, "f": 0.5, "name": "a"}, {"x": 2, "f": 1e19, "name": "b"}]
    assert requests.put(f"{server.url}/datasets/t", json=rows, headers=h).status_code == 201
    for query in [
        "x__eq=99999999999999999999",
        "x__in=1,99999999999999999999",
        "x__in=[1,-99999999999999999999]",
        "x__between=1,99999999999999999999",
        "name__eq=%00",
        "name__in=a,b%00",
        "name__contains=%00",
    ]:
        r = requests.get(f"{server.url}/datasets/t?{query}", headers=h)
        _assert_json_error(r, 400, "invalid_filter")
    # an integer beyond 64 bits still compares with a float column
    r = requests.get(f"{server.url}/datasets/t?f__gt=99999999999999999999", headers=h)
    assert r.status_code == 200 and r.json()["data"] == [], r.text
    r = requests.get(f"{server.url}/datasets/t?f__lt=99999999999999999999", headers=h)
    assert [row["name"] for row in r.json()["data"]] == ["a", "b"]
    r = requests.get(f"{server.url}/datasets/t?x__in=1,9223372036854775807", headers=h)
    assert [row["x"] for row in r.json()["data"]] == [1]


def test_too_many_columns_is_400_and_stores_nothing(server: Server) -> None:
    h = server.headers()
    wide = [{f"c{i}": i for i in range(1700)}]
    r = requests.put(f"{server.url}/datasets/wide", json=wide, headers=h)
    _assert_json_error(r, 400, "bad_request")
    assert "1000" in r.json()["message"]
    csv = (",".join(f"c{i}" for i in range(1700)) + "\n" + ",".join("1" * 1700) + "\n").encode()
    r = requests.put(
        f"{server.url}/datasets/wide", data=csv, headers={**h, "Content-Type": "text/csv"}
    )
    _assert_json_error(r, 400, "bad_request")
    assert requests.get(f"{server.url}/datasets/wide", headers=h).status_code == 404
    # the widest frame allowed is stored
    r = requests.put(
        f"{server.url}/datasets/wide", json=[{f"c{i}": i for i in range(999)}], headers=h
    )
    assert r.status_code == 201, r.text


def test_rows_the_database_refuses_are_400(server: Server) -> None:
    """Text columns make a row wider than PostgreSQL's ~8 kB: the database refuses it."""
    h = server.headers()
    wide = [{f"c{i}": "x" * 20 for i in range(999)}]
    r = requests.put(f"{server.url}/datasets/widetext", json=wide, headers=h)
    if r.status_code == 201:  # SQLite stores it
        assert "sqlite" in server.database_url
        return
    _assert_json_error(r, 400, "bad_request")
    assert "CREATE" not in r.json()["message"] and "omb_" not in r.json()["message"]
    assert requests.get(f"{server.url}/datasets/widetext", headers=h).status_code == 404


def test_json_sent_as_csv_and_records_without_fields_are_400(server: Server) -> None:
    h = server.headers()
    csv = {**h, "Content-Type": "text/csv"}
    for body in (b'[{"a": 1}, {"a": 2}]', b'{"a": [1, 2]}', b'  [{"a": 1}]\n'):
        r = requests.put(f"{server.url}/datasets/j", data=body, headers=csv)
        _assert_json_error(r, 400, "bad_request")
        assert "application/json" in r.json()["message"]
    for body in ([{}], [{}, {}], {"data": [{}]}):
        r = requests.put(f"{server.url}/datasets/j", json=body, headers=h)
        _assert_json_error(r, 400, "bad_request")
    assert requests.get(f"{server.url}/datasets/j", headers=h).status_code == 404
    # CSV that merely starts like JSON is still CSV
    r = requests.put(f"{server.url}/datasets/j", data=b"[a],b\n1,2\n", headers=csv)
    assert r.status_code == 201 and r.json()["rows"] == 1, r.text


def _raw_request(url: str, method: str, path: str, headers: dict, body: bytes) -> tuple:
    """Send a request over a plain socket, all of its body, then read the whole answer:
    (status, headers, body). Fails if the server resets the connection."""
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()  # type: ignore[union-attr]
    prefix = url.split(f"{host}:{port}", 1)[1]
    lines = [f"{method} {prefix}/{path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sock.sendall(body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    answer_headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in header_lines)}
    return int(status_line.split()[1]), answer_headers, payload


@pytest.mark.parametrize("megabytes", [1.5, 3, 40])
def test_bodies_over_the_limit_get_a_json_413(server: Server, megabytes: float) -> None:
    h = server.headers()
    body = b"x" * int(megabytes * 1024 * 1024)
    status, headers, payload = _raw_request(
        server.url, "PUT", "datasets/big", {**h, "Content-Type": "text/csv"}, body
    )
    assert status == 413, payload[:300]
    assert headers["content-type"].startswith("application/json")
    assert b'"payload_too_large"' in payload
    r = requests.put(f"{server.url}/datasets/big", data=body, headers=h)  # a real client
    _assert_json_error(r, 413, "payload_too_large")
    # the server keeps serving, and a body at the limit is still read
    r = requests.put(f"{server.url}/datasets/big", json=[{"a": "y" * 1000}] * 900, headers=h)
    assert r.status_code == 201, r.text
    assert requests.get(f"{server.url}/ping").ok


def test_method_not_allowed_says_what_is(server: Server) -> None:
    h = server.headers()
    for method, path, allowed in [
        ("PATCH", "datasets/x", "GET, POST, PUT, DELETE"),
        ("POST", "datasets", "GET"),
        ("PUT", "runs/1", "GET"),
        ("DELETE", "jobs/x/run", "POST"),
    ]:
        r = requests.request(method, f"{server.url}/{path}", headers=h)
        _assert_json_error(r, 405, "method_not_allowed")
        assert r.headers["Allow"] == allowed, (method, path)


# -- sessions terminated mid-request ----------------------------------------------------------
def _terminate_sessions(admin_url: str, database: str, stop: threading.Event) -> int:
    """Terminate every session of ``database`` (the server's) until ``stop``; how many."""
    terminated = 0
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
            terminated += sum(1 for (done,) in rows if done)
            stop.wait(0.1)
    return terminated


def test_sessions_terminated_mid_request_answer_503(fresh_database_url: str, tmp_path) -> None:
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("terminating sessions is a PostgreSQL test")
    proc, server = start_server(fresh_database_url, str(tmp_path / "home"))
    try:
        h = server.headers()
        get_database(fresh_database_url).dispose()  # the test's own sessions stay out of it
        rows = [{"k": i, "v": f"v{i}"} for i in range(200)]
        assert requests.put(f"{server.url}/datasets/d", json=rows, headers=h).ok
        url = sa.make_url(fresh_database_url)
        admin = url.set(drivername="postgresql", database="postgres")
        stop = threading.Event()
        counted: list[int] = []
        killer = threading.Thread(
            target=lambda: counted.append(
                _terminate_sessions(
                    admin.render_as_string(hide_password=False), str(url.database), stop
                )
            )
        )
        statuses: list[int] = []
        bodies: list[str] = []

        def client(n: int) -> None:
            for i in range(n):
                try:
                    if i % 3 == 0:
                        r = requests.put(
                            f"{server.url}/datasets/w", json=rows[:20], headers=h, timeout=60
                        )
                    else:
                        r = requests.get(
                            f"{server.url}/datasets/d?k__gte=50", headers=h, timeout=60
                        )
                except requests.RequestException as exc:
                    statuses.append(0)
                    bodies.append(repr(exc))
                    continue
                statuses.append(r.status_code)
                if r.status_code >= 500:
                    bodies.append(r.text)

        killer.start()
        clients = [threading.Thread(target=client, args=(60,)) for _ in range(4)]
        try:
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join(timeout=300)
        finally:
            stop.set()
            killer.join(timeout=30)
        # the server recovers at once
        deadline = time.monotonic() + 10
        while True:
            r = requests.get(f"{server.url}/datasets/d?k__gte=50", headers=h, timeout=60)
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        log = stop_server(proc)
    assert counted and counted[0] > 0  # sessions were terminated while requests ran
    assert len(statuses) == 240
    uncaught = log[log.find("Uncaught exception") :]
    uncaught = uncaught[: uncaught.find("\n500 ")][-1500:]  # the exception of a 500
    assert set(statuses) <= {200, 201, 503}, (sorted(set(statuses)), uncaught)
    for body in bodies:
        assert '"database_unavailable"' in body
    assert r.status_code == 200 and len(r.json()["data"]) == 150
    assert "Traceback" not in log, log[-3000:]
