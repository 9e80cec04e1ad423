"""HTTP predict: ``om serve`` vs ``mlflow models serve`` vs a bare tornado handler (the floor).

The same scikit-learn model (LogisticRegression on iris) answers single-row and 1000-row
``dataframe_records`` predicts over loopback, measured three ways in the same run: sequential on
one keep-alive connection, a new connection per request, and 8 concurrent clients (8 processes,
each on its own keep-alive connection). ``om serve`` runs with ``--workers 1`` and with each
count of ``--workers`` (default 1,2: the bare handler stays one process). Prints requests/s,
p50 and p99 and the ratios against the targets: >= 2x MLflow's requests/s (sequential and 8
clients), p50 <= 1.3x the bare handler, and with 8 clients ``--workers 2`` >= 1.0x the bare
handler's requests/s.

    .venv/bin/python bench/serve.py
    .venv/bin/python bench/serve.py --mlflow-python /path/to/venv-with-mlflow/bin/python
    .venv/bin/python bench/serve.py --requests 2000 --url postgresql+psycopg://root@127.0.0.1/test
    .venv/bin/python bench/serve.py --workers 1,2,4

MLflow is measured only when ``--mlflow-python`` (or this interpreter) can import ``mlflow``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
iris = load_iris(as_frame=True)
X = iris.data
X.columns = ["sl", "sw", "pl", "pw"]
model = LogisticRegression(max_iter=1000).fit(X, iris.target)
"""

BARE_SERVER = (
    TRAIN
    + """
import asyncio, json, socket, sys
import pandas as pd
import tornado.web
from tornado.httpserver import HTTPServer

class Predict(tornado.web.RequestHandler):
    def post(self):
        body = json.loads(self.request.body)
        frame = pd.DataFrame.from_records(body["dataframe_records"])
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"predictions": model.predict(frame).tolist()}))

class NoDelay(HTTPServer):
    def handle_stream(self, stream, address):
        stream.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle_stream(stream, address)

async def main():
    server = NoDelay(tornado.web.Application([(r"/invocations", Predict)]))
    server.listen(int(sys.argv[1]), "127.0.0.1")
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""
)

MLFLOW_SAVE = (
    TRAIN
    + """
import sys, mlflow.sklearn
from mlflow.models import infer_signature
mlflow.sklearn.save_model(model, sys.argv[1], signature=infer_signature(X, model.predict(X)))
"""
)


@dataclass
class Target:
    name: str
    url: str  # http://127.0.0.1:PORT/path
    headers: dict[str, str]


@dataclass
class Result:
    latencies: list[float]
    elapsed: float

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


# -- clients ----------------------------------------------------------------------------------
def _split(url: str) -> tuple[str, int, str]:
    m = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert m, url
    return m[1], int(m[2]), m[3]


def _connect(host: str, port: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict) -> None:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {data[:300]!r}")


def run_client(target: Target, body: bytes, n: int, keepalive: bool) -> list[float]:
    host, port, path = _split(target.url)
    headers = {"Content-Type": "application/json", **target.headers}
    latencies = []
    conn = _connect(host, port) if keepalive else None
    for _ in range(n):
        start = time.perf_counter()
        if keepalive:
            _post(conn, path, body, headers)
        else:
            fresh = _connect(host, port)
            _post(fresh, path, body, {**headers, "Connection": "close"})
            fresh.close()
        latencies.append(time.perf_counter() - start)
    if conn is not None:
        conn.close()
    return latencies


def _worker(args: tuple) -> tuple[list[float], float, float]:
    target, body, n, start_at = args
    while time.time() < start_at:  # all clients start together
        time.sleep(0.001)
    begin = time.time()
    latencies = run_client(target, body, n, keepalive=True)
    return latencies, begin, time.time()


def measure(target: Target, body: bytes, n: int, mode: str, pool: mp.pool.Pool) -> Result:
    run_client(target, body, max(5, n // 20), keepalive=True)  # warm up
    if mode == "concurrent":
        start_at = time.time() + 0.3
        chunks = pool.map(_worker, [(target, body, max(1, n // 8), start_at)] * 8)
        lat = [x for c in chunks for x in c[0]]
        # Wall time from the first client's start to the last client's last reply.
        return Result(lat, max(c[2] for c in chunks) - min(c[1] for c in chunks))
    begin = time.perf_counter()
    lat = run_client(target, body, n, keepalive=(mode == "keepalive"))
    return Result(lat, time.perf_counter() - begin)


def warm_workers(target: Target, body: bytes, workers: int, tries: int = 500) -> int:
    """Send requests on new connections until each of ``workers`` processes (told apart by
    ``X-Om-Worker``) has answered one, so that every worker has loaded the model; returns
    how many did."""
    host, port, path = _split(target.url)
    headers = {"Content-Type": "application/json", **target.headers, "Connection": "close"}
    seen: set[str] = set()
    for _ in range(tries):
        conn = _connect(host, port)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        seen.add(response.getheader("X-Om-Worker", ""))
        conn.close()
        if len(seen) >= workers:
            break
    return len(seen)


# -- servers ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    host, port, _ = _split(url)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def setup_om(workdir: Path, url: str | None) -> tuple[dict, str]:
    """The database of ``om serve`` with the model and a key: (environment, key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env["OMEGA_HOME"] = str(workdir / "omega")
    if url:
        env["OMEGA_DATABASE_URL"] = url
    setup = TRAIN + textwrap.dedent("""
        import omega_jupyter
        from omega_jupyter.models.actions import signature_of
        from omega_jupyter.server.apikeys import ApiKeyService
        om = omega_jupyter.setup(bucket="bench")
        om.models.put(model, "iris", signature=signature_of(X))
        print(ApiKeyService(om.db).create(name="bench", buckets=["bench"])[1])
        """)
    key = subprocess.run(
        [sys.executable, "-c", setup], env=env, capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    return env, key


def om_name(workers: int) -> str:
    return "om serve" if workers == 1 else f"om serve x{workers}"


def start_om(env: dict, key: str, workers: int) -> tuple[Target, subprocess.Popen]:
    port = free_port()
    cmd = [sys.executable, "-c", "from omega_jupyter.cli import main; main()"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    target = Target(
        om_name(workers),
        f"http://127.0.0.1:{port}/api/v1/model/iris/predict",
        {"Authorization": f"Bearer {key}"},
    )
    wait_http(target.url, proc)
    return target, proc


def start_bare() -> tuple[Target, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], stdout=subprocess.PIPE)
    target = Target("bare tornado", f"http://127.0.0.1:{port}/invocations", {})
    wait_http(target.url, proc)
    return target, proc


def start_mlflow(python: str, workdir: Path) -> tuple[Target, subprocess.Popen] | None:
    probe = subprocess.run([python, "-c", "import mlflow"], capture_output=True)
    if probe.returncode != 0:
        return None
    model_dir = workdir / "mlflow_model"
    subprocess.run([python, "-c", MLFLOW_SAVE, str(model_dir)], check=True, capture_output=True)
    port = free_port()
    mlflow_bin = str(Path(python).parent / "mlflow")
    cmd = [mlflow_bin, "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    proc = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PATH": f"{Path(python).parent}:{os.environ.get('PATH', '')}"},
    )
    target = Target("mlflow serve", f"http://127.0.0.1:{port}/invocations", {})
    wait_http(target.url, proc, timeout=180)
    time.sleep(1.0)
    return target, proc


def body_of(rows: int) -> bytes:
    import pandas as pd
    from sklearn.datasets import load_iris

    X = load_iris(as_frame=True).data
    X.columns = ["sl", "sw", "pl", "pw"]
    frame = pd.concat([X] * (rows // len(X) + 1)).head(rows)
    return json.dumps({"dataframe_records": frame.to_dict(orient="records")}).encode()


# -- report -----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per single-row measurement")
    parser.add_argument("--mlflow-python", default=sys.executable)
    parser.add_argument("--url", default=None, help="database of om serve (default: SQLite)")
    parser.add_argument(
        "--workers", default="1,2", help="comma-separated `om serve --workers` to measure"
    )
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if 1 not in counts:
        counts.insert(0, 1)

    workdir = Path(tempfile.mkdtemp(prefix="omega_bench_serve_"))
    procs: list[subprocess.Popen] = []
    try:
        targets = []
        env, key = setup_om(workdir, args.url)
        starts = [lambda w=w: start_om(env, key, w) for w in counts]
        for start in (*starts, start_bare):
            target, proc = start()
            targets.append(target)
            procs.append(proc)
        for w in counts:  # every worker loads the model before it is measured
            warmed = warm_workers(targets[counts.index(w)], body_of(1), w)
            print(f"{om_name(w)}: {warmed} of {w} worker processes warmed up")
        started = start_mlflow(args.mlflow_python, workdir)
        if started is None:
            print("mlflow: not importable by --mlflow-python; compared with the bare handler only")
        else:
            targets.append(started[0])
            procs.append(started[1])
        results: dict[tuple[str, str, str], Result] = {}
        with mp.get_context("fork").Pool(8) as pool:
            for rows, n in (("1 row", args.requests), ("1000 rows", max(50, args.requests // 5))):
                body = body_of(1 if rows == "1 row" else 1000)
                for mode in ("keepalive", "new-conn", "concurrent"):
                    for target in targets:  # interleaved: background load hits all alike
                        res = measure(target, body, n, mode, pool)
                        results[(rows, mode, target.name)] = res
                        print(
                            f"{rows:>9}  {mode:<10}  {target.name:<13} {res.rps:8.0f} req/s  "
                            f"p50 {res.pct(0.5):6.2f} ms  p99 {res.pct(0.99):6.2f} ms",
                            flush=True,
                        )
        report(results, [t.name for t in targets])
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: dict, names: list[str]) -> None:
    print("\nratios (om serve vs …)")
    for rows in ("1 row", "1000 rows"):
        for mode in ("keepalive", "new-conn", "concurrent"):
            om = results[(rows, mode, "om serve")]
            bare = results[(rows, mode, "bare tornado")]
            line = (
                f"{rows:>9}  {mode:<10}  p50 vs bare {om.pct(0.5) / bare.pct(0.5):5.2f}x "
                f"(target <= 1.3)  req/s vs bare {om.rps / bare.rps:5.2f}x"
            )
            if "mlflow serve" in names:
                ml = results[(rows, mode, "mlflow serve")]
                line += f"  req/s vs mlflow {om.rps / ml.rps:5.2f}x"
                if mode in ("keepalive", "concurrent"):
                    line += " (target >= 2)"
            print(line)
    for name in names:
        if not name.startswith("om serve x"):
            continue
        for rows in ("1 row", "1000 rows"):
            many = results[(rows, "concurrent", name)]
            one = results[(rows, "concurrent", "om serve")]
            bare = results[(rows, "concurrent", "bare tornado")]
            line = (
                f"{rows:>9}  8 clients  {name}: req/s vs --workers 1 {many.rps / one.rps:5.2f}x  "
                f"vs bare {many.rps / bare.rps:5.2f}x (target >= 1.0)"
            )
            if "mlflow serve" in names:
                ml = results[(rows, "concurrent", "mlflow serve")]
                line += f"  vs mlflow {many.rps / ml.rps:5.2f}x (target >= 3)"
            print(line)
    med = statistics.median(results[("1 row", "keepalive", "om serve")].latencies) * 1000
    print(f"\nom serve single-row keep-alive median {med:.2f} ms")


if __name__ == "__main__":
    main()
