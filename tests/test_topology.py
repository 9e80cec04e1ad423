"""The system as separate services: every piece its own OS process, all on one PostgreSQL.

``dask scheduler``, two ``dask worker``s, two ``om scheduler`` loops, ``om serve`` and a Jupyter
server with the extension (its own scheduler loop left on: three loops compete for each slot)
run on 127.0.0.1. The test stores data, fits a model on the cluster, runs a notebook and
schedules one every 2 seconds, SIGKILLs and restarts a Dask worker and an ``om scheduler``
while the schedule runs, predicts over REST (``om serve`` with an API key, and the Jupyter
route with its token), and checks that each slot ran once: none doubled, none lost (a run
killed with its worker or scheduler is retried; one queued by a killed loop is resent).
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.linear_model import LogisticRegression

import omega_jupyter
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.jobs.test_jobs import make_notebook

BIN = Path(sys.executable).parent
BUCKET = "topo"
EVERY = 2  # seconds between scheduled slots
STALE_AFTER = 6  # seconds without heartbeat before an om scheduler fails (and retries) a run
# The only ways a run may fail here: its worker or its scheduler was killed under it.
KILLED = (
    "the worker running this notebook stopped",  # Dask re-ran the task of a dead worker
    "the worker running this run stopped",  # a reconciler found its heartbeat stopped
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (OSError, requests.RequestException):
            value = None  # a service still starting
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Service:
    """One OS process in a process group of its own (a nanny and its worker die together)."""

    def __init__(self, name: str, argv: list[str], env: dict, logs: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = logs / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean shutdown, as when a machine dies."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.text()[-3000:]}")


class Topology:
    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.services: list[Service] = []
        self.services_by_name: dict[str, Service] = {}
        self.omega: Any = None
        self.key = self.serve_url = self.jupyter_url = ""
        self.jupyter_port, self.token = free_port(), secrets.token_hex(16)
        self.dask_address = f"tcp://127.0.0.1:{free_port()}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
        self.env.update(
            OMEGA_DATABASE_URL=url,
            OMEGA_DASK_ADDRESS=self.dask_address,
            OMEGA_HOME=str(tmp / "home"),
            JUPYTER_CONFIG_DIR=str(tmp / "jupyter_config"),
            JUPYTER_RUNTIME_DIR=str(tmp / "jupyter_runtime"),
            PYTHONUNBUFFERED="1",
        )

    @property
    def jupyter_auth(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def spawn(self, name: str, *argv: str) -> Service:
        service = Service(name, list(argv), self.env, self.logs)
        self.services.append(service)
        return service

    def om(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "om"), *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"om {' '.join(args)}: {done.stderr}"
        return done.stdout

    def client(self) -> Any:
        """An omega client on this topology's database and Dask scheduler."""
        self.omega = omega_jupyter.setup(url=self.url, bucket=BUCKET, dask=self.dask_address)
        return self.omega

    def stop(self) -> None:
        """SIGTERM every service at once, then SIGKILL whatever is left after 10 s."""
        if self.omega is not None:
            self.omega.runtime.client.close()  # else it retries the stopped Dask scheduler
        for service in self.services:
            if service.proc is not None and service.proc.poll() is None:
                os.killpg(service.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for service in self.services:
            try:
                service.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.kill()

    def report(self) -> str:
        return "\n".join(f"== {s.name}\n{s.text()[-1500:]}" for s in self.services)


def start_topology(topo: Topology) -> dict[str, Service]:
    """Start every service; returns them by name once each answers."""
    port = topo.dask_address.rsplit(":", 1)[1]
    host = ("--host", "127.0.0.1")
    s: dict[str, Service] = {}
    s["dask-scheduler"] = topo.spawn(
        "dask-scheduler", str(BIN / "dask"), "scheduler", *host, "--port", port, "--no-dashboard"
    )
    for i in (1, 2):
        s[f"worker{i}"] = topo.spawn(
            f"worker{i}",
            *(str(BIN / "dask"), "worker", topo.dask_address, *host, "--name", f"w{i}"),
            *("--nthreads", "2", "--no-dashboard", "--death-timeout", "60"),
        )
    for i in (1, 2):
        s[f"om-scheduler{i}"] = topo.spawn(
            f"om-scheduler{i}", str(BIN / "om"), "scheduler", "--stale-after", str(STALE_AFTER)
        )
    s["om-serve"] = topo.spawn("om-serve", str(BIN / "om"), "serve", "--port", "0")
    s["jupyter"] = topo.spawn(
        "jupyter",
        *(str(BIN / "jupyter"), "server", "--no-browser", f"--port={topo.jupyter_port}"),
        *("--ServerApp.ip=127.0.0.1", f"--ServerApp.token={topo.token}"),
        *("--ServerApp.allow_root=True", f"--ServerApp.root_dir={topo.tmp}"),
        "--ServerApp.port_retries=0",
    )
    topo.jupyter_url = f"http://127.0.0.1:{topo.jupyter_port}/omega/api/v1"
    match = wait_for(
        lambda: re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", s["om-serve"].text()),
        60,
        "om serve",
    )
    topo.serve_url = f"http://127.0.0.1:{match[1]}/api/v1"  # type: ignore[index]
    wait_for(
        lambda: requests.get(f"{topo.jupyter_url}/ping", headers=topo.jupyter_auth).ok,
        90,
        "the Jupyter server",
    )
    return s


@pytest.fixture
def topology(postgres_url: str, tmp_path: Path) -> Iterator[Topology]:
    """A PostgreSQL database of its own (the loops serve every bucket) and every service."""
    url = _create_pg_database("omega_topology")
    topo = Topology(url, tmp_path)
    try:
        topo.om("db", "upgrade")
        topo.key = topo.om("--bucket", BUCKET, "apikey", "create", "--name", "topology").split()[-1]
        topo.services_by_name = start_topology(topo)
        yield topo
    except BaseException:
        print(topo.report(), file=sys.stderr)  # the services' logs, for whoever reads the failure
        raise
    finally:
        topo.stop()
        from omega_jupyter.storage.engine import _engines

        db = _engines.pop(url, None)
        if db is not None:
            db.dispose()
        _drop_pg_database(url)


def training_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    Y = pd.DataFrame({"y": (X["a"] + 0.5 * X["b"] - X["c"] > 0).astype("int64")})
    return X, Y


def finished_runs(om, name: str) -> pd.DataFrame:
    runs = om.jobs.runs(name, limit=None)
    return runs[runs["state"].isin(["succeeded", "failed"])]


def scheduled_after(om, name: str, after: pd.Timestamp, count: int, timeout: float, services):
    """Wait until ``count`` scheduled runs with slots after ``after`` have finished."""

    def enough() -> bool:
        for service in services:
            service.check_alive()
        runs = finished_runs(om, name)
        runs = runs[(runs["trigger"] == "schedule") & (runs["scheduled_for"] > after)]
        return len(runs) >= count

    wait_for(enough, timeout, f"{count} scheduled runs of {name} after {after}")


def test_services_in_separate_processes(topology: Topology) -> None:
    s = topology.services_by_name
    om = topology.client()
    om.runtime.client.wait_for_workers(2, timeout=60)

    # data and a fit on the cluster (the workers read the data from PostgreSQL themselves)
    X, Y = training_data()
    om.datasets.put(X, "X")
    om.datasets.put(Y, "Y")
    om.models.put(LogisticRegression(), "clf")
    fit = om.runtime.model("clf").fit("X", "Y")
    fit.result(timeout=120)
    local = LogisticRegression().fit(X, Y["y"])
    expected = local.predict(X).tolist()
    assert om.models.versions("clf")["version"].tolist() == [1, 2]  # the fit saved version 2

    # a notebook run by hand, then one on a schedule while services die and come back
    om.jobs.put(make_notebook("y = x * 2", "print(y)"), "report")
    handle = om.runtime.job("report").run({"x": 21})
    handle.result(timeout=120)
    assert om.runtime.run(handle.id).status == "succeeded"
    om.jobs.put(make_notebook("import time; time.sleep(0.2)"), "tick")
    om.jobs.schedule("tick", f"every {EVERY} seconds", missed="all", max_retries=1)
    started = pd.Timestamp.now(tz="UTC")
    alive = [s["dask-scheduler"], s["worker2"], s["om-scheduler2"], s["jupyter"]]
    scheduled_after(om, "tick", started, 2, 90, alive)

    s["worker1"].kill()
    s["om-scheduler1"].kill()
    killed = pd.Timestamp.now(tz="UTC")
    scheduled_after(om, "tick", killed, 2, 90, alive)
    s["worker1"].start()
    s["om-scheduler1"].start()
    om.runtime.client.wait_for_workers(2, timeout=60)
    restarted = pd.Timestamp.now(tz="UTC")
    scheduled_after(om, "tick", restarted, 2, 90, [*alive, s["worker1"], s["om-scheduler1"]])
    # Paused, no new slot is claimed, but the loops still retry and resend the claimed ones
    # (unscheduled, a killed run's slot would not be retried). The last slots claimed may still
    # run; a run orphaned by a kill is failed after STALE_AFTER and retried.
    om.jobs.pause("tick")
    try:
        wait_for(
            lambda: settled(om.jobs.runs("tick", limit=None)),
            90 + 4 * STALE_AFTER,
            "every scheduled run to finish, and runs killed with their worker to be retried",
        )
    except AssertionError:
        with pd.option_context("display.width", 250, "display.max_columns", 20):
            print(om.jobs.runs("tick", limit=None), file=sys.stderr)
        raise
    om.jobs.unschedule("tick")

    # predict: in the runtime (after the restart), over om serve, and via the Jupyter route
    predicted = om.runtime.model("clf").predict("X").result(timeout=120)
    assert list(np.asarray(predicted).ravel()) == expected
    body = X.head(20).to_dict("records")
    answer = requests.post(
        f"{topology.serve_url}/model/clf/predict",
        json=body,
        headers={"Authorization": f"Bearer {topology.key}", "Bucket": BUCKET},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == expected[:20]
    answer = requests.get(
        f"{topology.jupyter_url}/model/clf/predict",
        params={"datax": "X"},
        headers={**topology.jupyter_auth, "Bucket": BUCKET},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == expected

    check_slots(om.jobs.runs("tick", limit=None))


def check_slots(runs: pd.DataFrame) -> None:
    """Each slot ran once: at most one success per slot, no gap between slots, and a failure
    only where a kill hit a run (a run failed by its stopped heartbeat was retried)."""
    assert (runs["trigger"] == "schedule").all()
    failed = runs[runs["state"] == "failed"]
    for error in failed["error"]:
        assert any(reason in error for reason in KILLED), error
    succeeded = runs[runs["state"] == "succeeded"]
    per_slot = succeeded.groupby("scheduled_for").size()
    assert (per_slot == 1).all(), f"a slot ran twice: {per_slot[per_slot > 1]}"
    slots = sorted(runs["scheduled_for"].unique())
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(slots)}
    assert gaps == {float(EVERY)}, f"a slot was lost: {slots}"
    assert len(slots) >= 6
    # A run whose worker was SIGKILLed is failed when Dask re-runs its task (a notebook is not
    # executed twice) and retried by a scheduler loop (max_retries=1): no slot is left unrun.
    unrun = runs[~runs["scheduled_for"].isin(succeeded["scheduled_for"])]
    assert unrun.empty, unrun


def settled(runs: pd.DataFrame) -> bool:
    """Every run finished, and every run failed by a killed worker was taken for a retry."""
    finished = runs["state"].isin(["succeeded", "failed", "cancelled"]).all()
    errors = runs["error"].fillna("")
    pending_retry = errors.str.contains(KILLED[0]) & ~errors.str.endswith("(retried)")
    return bool(finished and not pending_retry.any())
