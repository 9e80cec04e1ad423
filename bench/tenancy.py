"""What bucket roles cost on PostgreSQL: issuing a credential, logging in with it, and the
row-level security on every read.

    .venv/bin/python bench/tenancy.py [--repeat 30] [--url postgresql+psycopg://root@127.0.0.1:5432/test]

Targets: a run pays at most +10 ms for its credential (issued once per bucket and half-ttl by
``cached_bucket_credentials``; a fresh one is a CREATE ROLE plus the worker's login), and a
REST predict's reads as the bucket role stay within 1.1x of the service's (RLS filters).
The REST rows time ``POST /api/v1/model/m/predict`` over loopback against two servers in one
process (same app, same API key): one that answers with the service's client (``om serve``
today) and one that answers the bucket's requests with the bucket's credential (what a
JupyterHub user's server does), on one keep-alive connection and with a new connection per
request, with a JSON body (no database read: the model is cached) and with ``?datax=X`` (a
dataset read per request, through row-level security), in alternating rounds.
The last rows time a whole runtime predict on a Dask worker process whose task carries the
bucket's credential against the same predict carrying the service's URL (the path before
tasks were confined), in alternating rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import socket
import statistics
import threading
import time

import pandas as pd
import sqlalchemy as sa
from _common import format_table, median_seconds, scratch_database
from sklearn.linear_model import LinearRegression

import omega_jupyter
from omega_jupyter.storage import credentials
from omega_jupyter.storage.engine import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--url", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_database(args.url, "omega_bench_tenancy") as url:
        rows = measure(url.render_as_string(hide_password=False), args.repeat)
    print(format_table(["what", "median", "target"], rows))


def measure(url: str, repeat: int) -> list[list[str]]:
    service = omega_jupyter.setup(url=url, bucket="bench")
    for i in range(50):  # other buckets' rows, so the filters have something to filter
        other = service[f"other{i}"]
        other.datasets.put({"i": i}, "d")
        other.models.put(LinearRegression().fit([[1], [2]], [1, 2]), "m")
    service.datasets.put(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), "X")
    service.models.put(LinearRegression().fit(pd.DataFrame({"x": [1.0, 2.0]}), [1, 2]), "m")
    issue = median_seconds(lambda: credentials.bucket_credentials(service.db, "bench", 60), repeat)
    cached = median_seconds(
        lambda: credentials.cached_bucket_credentials(service.db, "bench", 600), repeat, warmup=True
    )

    def login(target: str) -> None:
        db = Database(target)
        with db.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        db.dispose()

    login_service = median_seconds(lambda: login(url), repeat)
    fresh = credentials.bucket_credentials(service.db, "bench", 600)
    login_bucket = median_seconds(lambda: login(fresh), repeat)
    tenant = omega_jupyter.setup(url=fresh, bucket="bench")

    def predict(om) -> None:
        om.models.get("m").predict(om.datasets.get("X"))

    as_service, as_bucket = alternating([lambda: predict(service), lambda: predict(tenant)], repeat)
    tenant.db.dispose()
    rest = rest_predicts(service, fresh, repeat)
    credential_run, service_run = runtime_predicts(service, repeat)
    ms = lambda s: f"{s * 1000:.2f} ms"  # noqa: E731
    return [
        ["issue a credential (CREATE ROLE …)", ms(issue), ""],
        ["cached credential (per run)", ms(cached), ""],
        ["login as the service", ms(login_service), ""],
        ["login as a bucket credential", ms(login_bucket), ""],
        ["run overhead, a fresh credential per run", ms(issue + login_bucket - login_service), ""],
        [
            "run overhead, cached credential (the default)",
            ms(cached + login_bucket - login_service),
            "<= 10 ms",
        ],
        ["model get + dataset get + predict, service", ms(as_service), ""],
        [
            "same as the bucket role",
            f"{ms(as_bucket)} ({as_bucket / as_service:.2f}x)",
            "<= 1.1x",
        ],
        *rest,
        ["runtime predict, worker as the service (before)", ms(service_run), ""],
        [
            "runtime predict, worker as the bucket credential",
            f"{ms(credential_run)} ({credential_run / service_run:.2f}x,"
            f" {(credential_run - service_run) * 1000:+.1f} ms)",
            "<= +10 ms",
        ],
    ]


def alternating(calls: list, repeat: int) -> list[float]:
    """The median time of each of ``calls``, timed in alternating rounds (load from other
    processes falls on all alike) after one untimed round."""
    times: list[list[float]] = [[] for _ in calls]
    for trial in range(repeat + 1):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            if trial:
                times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def rest_predicts(service: omega_jupyter.Omega, credential: str, repeat: int) -> list[list[str]]:
    """REST predicts: the service's server vs one that serves bucket ``bench`` with
    ``credential``; median per request of ``repeat`` alternating rounds of 20 requests."""
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    from omega_jupyter.server.apikeys import ApiKeyService
    from omega_jupyter.server.context import ServerContext
    from omega_jupyter.server.standalone import make_app

    key = ApiKeyService(service.db).create(name="bench", buckets=["bench"])[1]
    headers = {"Authorization": f"Bearer {key}", "Bucket": "bench"}
    headers["Content-Type"] = "application/json"
    ports: dict[str, int] = {}
    started = threading.Event()
    loop_box: list[asyncio.AbstractEventLoop] = []

    def serve() -> None:
        async def main() -> None:
            for name in ("service", "credential"):
                app = make_app(service)
                if name == "credential":
                    app.settings["omega"] = ServerContext(
                        service,
                        apikeys=ApiKeyService(service.db),
                        bucket_database_urls={"bench": credential},
                    )
                sockets = bind_sockets(0, address="127.0.0.1")
                HTTPServer(app).add_sockets(sockets)
                ports[name] = sockets[0].getsockname()[1]
            loop_box.append(asyncio.get_running_loop())
            started.set()
            await asyncio.Event().wait()

        try:
            asyncio.run(main())
        except RuntimeError:
            pass  # the loop was stopped from outside

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(60)
    body = json.dumps({"columns": ["x"], "data": [[1.0], [2.0], [3.0]]}).encode()
    paths = {
        "json": ("/api/v1/model/m/predict", body),
        "datax": ("/api/v1/model/m/predict?datax=X", b""),
    }

    def connect(port: int) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def call(conn: http.client.HTTPConnection, path: str, data: bytes, extra: dict) -> None:
        conn.request("POST", path, body=data, headers={**headers, **extra})
        response = conn.getresponse()
        text = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {text[:300]!r}")

    def round_of(server: str, what: str, keepalive: bool, n: int = 20) -> float:
        path, data = paths[what]
        times = []
        conn = connect(ports[server]) if keepalive else None
        for _ in range(n):
            start = time.perf_counter()
            if conn is not None:
                call(conn, path, data, {})
            else:
                fresh = connect(ports[server])
                call(fresh, path, data, {"Connection": "close"})
                fresh.close()
            times.append(time.perf_counter() - start)
        if conn is not None:
            conn.close()
        return statistics.median(times)

    rows = []
    try:
        for what in ("json", "datax"):
            for keepalive in (True, False):
                got: dict[str, list[float]] = {"service": [], "credential": []}
                for _ in range(max(repeat, 3) + 1):  # the first round warms both up
                    for server in ("service", "credential"):
                        got[server].append(round_of(server, what, keepalive))
                a, b = (statistics.median(got[s][1:]) for s in ("service", "credential"))
                how = f"REST predict ({what}, {'keep-alive' if keepalive else 'new connection'})"
                rows.append([f"{how}, service", f"{a * 1000:.2f} ms", ""])
                rows.append(
                    [f"{how}, bucket credential", f"{b * 1000:.2f} ms ({b / a:.2f}x)", "<= 1.1x"]
                )
    finally:
        if loop_box:
            loop_box[0].call_soon_threadsafe(loop_box[0].stop)
        thread.join(10)
    return rows


def runtime_predicts(service: omega_jupyter.Omega, repeat: int) -> tuple[float, float]:
    """``om.runtime.model('m').predict('X')`` end to end on a one-process Dask worker, with the
    task carrying the bucket's credential (today) and the service's URL (before), in
    alternating rounds of the same run."""
    from distributed import Client, LocalCluster

    from omega_jupyter.runtime.service import Runtime
    from omega_jupyter.runtime.worker import settings_payload

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0")
    client = Client(cluster)
    try:
        service.runtime.use_client(client)
        with_credential = Runtime.task_settings

        def as_service(self: Runtime) -> dict:
            return settings_payload(self.om.settings)

        def predict() -> None:
            service.runtime.model("m").predict("X").result(timeout=120)

        times: dict[str, list[float]] = {"credential": [], "service": []}
        for _ in range(max(repeat, 3) + 2):  # the first two rounds warm both paths up
            for name, path in (("credential", with_credential), ("service", as_service)):
                Runtime.task_settings = path  # type: ignore[method-assign]
                start = time.perf_counter()
                predict()
                times[name].append(time.perf_counter() - start)
        Runtime.task_settings = with_credential  # type: ignore[method-assign]
        return tuple(statistics.median(t[2:]) for t in (times["credential"], times["service"]))
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
