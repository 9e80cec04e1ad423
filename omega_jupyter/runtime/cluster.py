"""Which Dask cluster runs the work, and the local clusters this project starts itself.

Resolution order: an explicit address (``setup(dask=...)``, then ``OMEGA_DASK_ADDRESS``) > Dask's
``scheduler-address`` config > a background cluster from ``om cluster start`` (address kept in
``OMEGA_HOME``) > a ``LocalCluster`` on 127.0.0.1 started on first use and reused by the process.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from omega_jupyter.exceptions import RuntimeUnavailableError

CLUSTER_FILE = "cluster.json"
CONNECT_TIMEOUT = "3s"

_clients: dict[str, Any] = {}
_local_cluster: Any = None
_exit_registered = False
_lock = threading.RLock()


def resolve_address(dask_address: str | None, home: Path) -> tuple[str | None, str]:
    """(address, where it came from); address None means "start a local cluster"."""
    import dask

    if dask_address:
        return dask_address, "setting dask_address"
    configured = dask.config.get("scheduler-address", None)
    if configured:
        return str(configured), "dask config scheduler-address"
    background = read_cluster_file(home)
    if background:
        return background["address"], f"om cluster ({home / CLUSTER_FILE})"
    return None, "local cluster"


def get_client(dask_address: str | None, home: Path) -> Any:
    """A connected ``distributed.Client`` (one per address and process)."""
    address, source = resolve_address(dask_address, home)
    if address is None:
        address = local_cluster().scheduler_address
    return client_for(address, source)


def current_client(dask_address: str | None, home: Path) -> Any:
    """The client this process already has for the cluster it would use, or None: never
    connects anew nor starts a local cluster (for looking, not for sending)."""
    address, _source = resolve_address(dask_address, home)
    with _lock:
        if address is None:
            if _local_cluster is None or _local_cluster.status.name != "running":
                return None
            address = _local_cluster.scheduler_address
        client = _clients.get(address)
        return client if client is not None and client.status == "running" else None


def client_for(address: str, source: str = "address") -> Any:
    from distributed import Client

    with _lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        try:
            client = Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise RuntimeUnavailableError(
                f"cannot reach the Dask scheduler at {address} (from {source}): {exc}"
            ) from exc
        _clients[address] = client
        return client


def register_client(client: Any) -> None:
    """Make an existing ``distributed.Client`` the one used for its scheduler address."""
    with _lock:
        _clients[client.scheduler.address] = client


def local_cluster(**options: Any) -> Any:
    """The process's own ``LocalCluster``, started on first use.

    Thread-based by default: tasks start without spawning interpreters, and the measured fit
    on a thread worker ran at 1.2x in-process. BLAS is pinned to one thread per task.
    """
    global _local_cluster
    from distributed import LocalCluster

    with _lock:
        if _local_cluster is None or _local_cluster.status.name != "running":
            settings = {
                "n_workers": 1,
                "threads_per_worker": max(2, os.cpu_count() or 1),
                "processes": False,
                "dashboard_address": _dashboard_address(),
                **options,
            }
            if settings["processes"]:
                settings.setdefault("host", "127.0.0.1")  # never listen beyond loopback
            # else: in-process workers talk over inproc://, no port is opened at all
            _local_cluster = LocalCluster(**settings)
            _close_at_exit()
        return _local_cluster


def _close_at_exit() -> None:
    """Register (once) the orderly shutdown of this process's clients and local cluster."""
    global _exit_registered
    if not _exit_registered:
        _exit_registered = True
        atexit.register(shutdown)  # runs before distributed's own exit hooks (registered earlier)


def shutdown() -> None:
    """Close the clients first, then the local cluster.

    Dask's own exit hooks close the cluster while a client may still hold futures of finished
    runs; the scheduler then warns that removing the worker "lost already computed tasks".
    A closed client has released its futures, so the worker goes quietly.
    """
    global _local_cluster
    with _lock:
        clients, cluster = list(_clients.values()), _local_cluster
        _clients.clear()
        _local_cluster = None
    for client in clients:
        try:
            client.close(timeout=5)
        except Exception:  # already closed or its scheduler gone: nothing left to release
            pass
    if cluster is not None:
        try:
            cluster.close(timeout=5)
        except Exception:
            pass


def _dashboard_address() -> str:
    # Any free loopback port: the fixed default (8787) clashes with other clusters.
    return "127.0.0.1:0"


def _has_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False  # the dashboard pages need bokeh
    return True


def describe(client: Any) -> dict[str, Any]:
    """Address, workers, threads, resources and the dashboard link of a connected client."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "address": client.scheduler.address,
        "workers": len(workers),
        "threads": sum(w.get("nthreads", 0) for w in workers.values()),
        "resources": {k: w.get("resources", {}) for k, w in workers.items()},
        "dashboard": client.dashboard_link if _has_dashboard() else None,
    }


# -- om cluster: a background cluster that outlives notebooks ----------------------------------
def read_cluster_file(home: Path) -> dict[str, Any] | None:
    """The running background cluster's {address, pid, ...}, or None (stale files are removed)."""
    path = Path(home) / CLUSTER_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(data.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return data


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def start_background(home: Path, workers: int = 1, threads: int = 0, wait: float = 60) -> dict:
    """Start ``python -m omega_jupyter.runtime.cluster`` detached; return its cluster file."""
    home = Path(home)
    running = read_cluster_file(home)
    if running:
        return running
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "cluster.log").open("ab")
    cmd = [sys.executable, "-m", "omega_jupyter.runtime.cluster", str(home), str(workers)]
    cmd.append(str(threads or max(1, (os.cpu_count() or 2) // max(1, workers))))
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=log, start_new_session=True, env=worker_env(os.environ)
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        data = read_cluster_file(home)
        if data and data.get("pid") == proc.pid:
            return data
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeUnavailableError(
        f"the background cluster did not start; see {home / 'cluster.log'}"
    )


# Workers get each task's settings (on PostgreSQL the run bucket's credential) with the task;
# they need none of the starting process's OMEGA_* settings, its database URL least of all.
WORKER_OMEGA_ENV = ("OMEGA_HOME", "OMEGA_SCRIPT_CACHE")


def worker_env(environ: Any) -> dict[str, str]:
    """The background cluster's environment: the starting process's, without its ``OMEGA_*``
    settings (the service's database URL among them) but for :data:`WORKER_OMEGA_ENV`."""
    return {k: v for k, v in environ.items() if not k.startswith("OMEGA_") or k in WORKER_OMEGA_ENV}


def stop_background(home: Path, wait: float = 30) -> bool:
    """Stop the background cluster; False if none was running."""
    data = read_cluster_file(Path(home))
    if not data:
        return False
    pid = int(data["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (Path(home) / CLUSTER_FILE).unlink(missing_ok=True)
    return True


def _serve(home: Path, workers: int, threads: int) -> None:
    """Body of the background process: run a cluster until SIGTERM."""
    from distributed import LocalCluster

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Process workers: a crashing task cannot take the scheduler down with it.
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=threads,
        processes=True,
        host="127.0.0.1",
        dashboard_address=_dashboard_address(),
    )
    path = home / CLUSTER_FILE
    tmp = path.with_suffix(".tmp")
    data = {
        "address": cluster.scheduler_address,
        "pid": os.getpid(),
        "workers": workers,
        "threads": threads,
        "dashboard": cluster.dashboard_link if _has_dashboard() else None,
        "started": time.time(),
    }
    tmp.write_text(json.dumps(data))
    tmp.replace(path)  # readers never see a half-written file
    try:
        stop.wait()
    finally:
        path.unlink(missing_ok=True)
        cluster.close()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
