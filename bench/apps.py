"""Apps: a small GET through ``om serve`` (``/apps/{name}/``) and through Jupyter
(``{base_url}omega/apps/{name}/``) vs straight to the app's port; and ``start()`` → first 200.

A Flask app (stored as a script package) runs on a Dask worker process (a LocalCluster of one
worker, ``processes=True``), served by uvicorn. The same client (``http.client``, one keep-alive
connection per target) sends ``--requests`` GETs of its 20-byte page to each target,
round-robin in ``--rounds`` blocks; prints p50, p99, requests/s and the ratios against the
direct baseline. Targets: p50 through each mount <= 1.3x direct (keep-alive), and start() to
the first 200 <= 3 s on a warm worker (the app started and stopped once before: its package is
installed, the worker's imports done).

    .venv/bin/python bench/apps.py
    .venv/bin/python bench/apps.py --requests 2000 --starts 5
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import Target, format_table, machine_load  # noqa: E402

APP = """
from flask import Flask

app = Flask(__name__)

@app.route("/")
def index():
    return "hello from the bench"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(host: str, port: int, path: str, headers: dict, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", path, headers=headers)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"http://{host}:{port}{path} did not answer 200 within {timeout} s")


class Target_:
    def __init__(self, name: str, port: int, path: str, headers: dict) -> None:
        self.name, self.port, self.path, self.headers = name, port, path, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.times: list[float] = []
        self.elapsed = 0.0

    def block(self, n: int) -> None:
        start = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            try:
                self.conn.request("GET", self.path, headers=self.headers)
                response = self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionError):
                # the server closed the idle connection (uvicorn: after 5 s) while the other
                # targets ran: connect again, untimed
                self.conn.close()
                self.elapsed -= time.perf_counter() - t0
                t0 = time.perf_counter()
                self.conn.request("GET", self.path, headers=self.headers)
                response = self.conn.getresponse()
            body = response.read()
            self.times.append(time.perf_counter() - t0)
            if response.status != 200 or b"hello from the bench" not in body:
                raise SystemExit(f"{self.name}: {response.status} {body[:200]!r}")
        self.elapsed += time.perf_counter() - start

    def p(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def rps(self) -> float:
        return len(self.times) / self.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="GETs per target")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin blocks")
    parser.add_argument("--starts", type=int, default=3, help="start() to first 200, times")
    args = parser.parse_args()

    from distributed import LocalCluster

    import omega_jupyter
    from omega_jupyter.server.apikeys import ApiKeyService
    from tests.apps.conftest import put_app

    home = Path(tempfile.mkdtemp(prefix="omega-bench-apps-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env["OMEGA_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    os.environ.update(OMEGA_HOME=str(home))
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    )
    procs: list[subprocess.Popen] = []
    om = omega_jupyter.setup(bucket="bench", dask_address=cluster.scheduler_address)
    try:
        put_app(om, "hello", APP)
        app = om.runtime.app("hello")
        app.start()  # warm the worker: package installed, imports done
        app.stop()
        starts = []
        for _ in range(args.starts):
            t0 = time.perf_counter()
            app.start(wait=False)
            status = app.wait()
            wait_for(status["host"], status["port"], "/", {})
            starts.append(time.perf_counter() - t0)
            app.stop()
        status = app.start()
        print(f"app on {status['host']}:{status['port']} ({machine_load()})")

        key = ApiKeyService(om.db).create(name="bench", buckets=["bench"])[1]
        serve_port = free_port()
        om_cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()"]
        procs.append(
            subprocess.Popen(
                [*om_cmd, "serve", "--host", "127.0.0.1", "--port", str(serve_port)],
                env=env,
                stderr=subprocess.DEVNULL,
            )
        )
        token = uuid.uuid4().hex
        jupyter_port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyter_server",
                    f"--port={jupyter_port}",
                    "--ip=127.0.0.1",
                    "--no-browser",
                    "--allow-root",
                    f"--IdentityProvider.token={token}",
                    "--ServerApp.jpserver_extensions={'omega_jupyter': True}",
                    "--OmegaExtensionApp.bucket=bench",
                    "--OmegaExtensionApp.run_scheduler=False",
                ],
                env=env,
                stderr=(home / "jupyter.log").open("w"),
                stdout=subprocess.DEVNULL,
                cwd=home,
            )
        )
        key_header = {"Authorization": f"Bearer {key}"}
        token_header = {"Authorization": f"token {token}"}
        wait_for("127.0.0.1", serve_port, "/apps/hello/", key_header)
        try:
            wait_for("127.0.0.1", jupyter_port, "/omega/apps/hello/", token_header)
        except SystemExit:
            print((home / "jupyter.log").read_text()[-3000:])
            raise

        targets = [
            Target_("direct to the app's port", status["port"], "/", {}),
            Target_("om serve /apps/hello/", serve_port, "/apps/hello/", key_header),
            Target_("Jupyter /omega/apps/hello/", jupyter_port, "/omega/apps/hello/", token_header),
        ]
        for target in targets:  # warm-up: connections open, caches filled
            target.block(50)
            target.times.clear()
            target.elapsed = 0.0
        per_block = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            for target in targets:
                target.block(per_block)

        direct = targets[0]
        rows = []
        for target in targets:
            rows.append(
                [
                    target.name,
                    f"{target.p(0.5) * 1000:.2f}",
                    f"{target.p(0.99) * 1000:.2f}",
                    f"{target.rps:.0f}",
                    f"{target.p(0.5) / direct.p(0.5):.2f}x",
                    f"{direct.rps / target.rps:.2f}x",
                ]
            )
        print(f"\n{len(direct.times)} GETs per target, one keep-alive connection each")
        headers = ["target", "p50 ms", "p99 ms", "req/s", "p50 / direct", "direct req/s / this"]
        print(format_table(headers, rows))
        print(
            f"\nstart() to first 200 (warm worker), {args.starts} times: "
            f"median {statistics.median(starts):.2f} s, "
            f"min {min(starts):.2f} s, max {max(starts):.2f} s"
        )
        goals = [
            Target(f"p50 {t.name} vs direct", t.p(0.5) / direct.p(0.5), 1.3, True)
            for t in targets[1:]
        ]
        goals.append(Target("start() to first 200, seconds", statistics.median(starts), 3, True))
        print()
        print(format_table(["target", "measured", "goal", ""], [g.row() for g in goals]))
        app.stop()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        cluster.close()


if __name__ == "__main__":
    main()
