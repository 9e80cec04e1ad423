"""What a worker process needs around a task: its own client, heartbeats, BLAS pinning.

The runtime does not import the client (the client composes the runtime): ``client.py``
registers its class with :func:`use_client_class` when imported. The package imports the client
lazily (``om --help`` must not pay for pandas and SQLAlchemy), so a worker process that only
unpickled a task may not have imported it yet: :func:`client_class` then loads the module by
its name, which registers the class.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from omega_jupyter.exceptions import ConfigurationError
from omega_jupyter.settings import Settings
from omega_jupyter.storage.engine import forget_database
from omega_jupyter.storage.tenancy import CREDENTIAL

if TYPE_CHECKING:
    from collections.abc import Callable

    from omega_jupyter.runtime.runs import RunStore

# Running tasks beat this often; a run whose beat stops for this many beats is taken for dead
# by a copy of its task that finds it running (RunStore.begin).
HEARTBEAT_SECONDS = 5.0
DEAD_AFTER_BEATS = 3

_client_class: Callable[[Settings], Any] | None = None
_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def use_client_class(client_class: Callable[[Settings], Any]) -> None:
    """The class a worker opens its clients with (``client.Omega`` registers itself)."""
    global _client_class
    _client_class = client_class


def client_class() -> Callable[[Settings], Any]:
    """The registered client class, importing ``omega_jupyter.client`` (which registers it)
    when no module of this process has yet."""
    if _client_class is None:
        importlib.import_module("omega_jupyter.client")
    if _client_class is None:
        raise ConfigurationError("no client class registered: import omega_jupyter.client first")
    return _client_class


def settings_payload(settings: Settings) -> dict[str, Any]:
    """Settings as plain data for a task (workers rebuild the client from it, not from env)."""
    data = dataclasses.asdict(settings)
    data["home"] = str(settings.home)
    return data


def client_from_payload(payload: dict[str, Any]) -> Any:
    """The worker's client for these settings, cached per process.

    On PostgreSQL a task's settings carry its bucket's credential, renewed by the submitter
    every half of its life: a client for a bucket's newer credential replaces the one for its
    older credential (whose pooled sessions are closed; a task still running with it opens
    new ones while the credential is valid)."""
    make_client = client_class()
    key = tuple(sorted((k, repr(v)) for k, v in payload.items()))
    retired: list[str] = []
    with _clients_lock:
        om = _clients.get(key)
        if om is None:
            known = {f.name for f in dataclasses.fields(Settings)}
            values = {k: v for k, v in payload.items() if k in known}
            values["home"] = Path(values["home"])
            settings = Settings(**values)
            same = _credential_slot(settings)
            if same is not None:
                for old_key, old in list(_clients.items()):
                    if _credential_slot(old.settings) == same:
                        del _clients[old_key]
                        retired.append(old.settings.resolved_database_url)
            om = _clients[key] = make_client(settings)
    for url in retired:
        forget_database(url)
    return om


def _credential_slot(settings: Settings) -> tuple | None:
    """What a bucket credential's client stands for: the same bucket, database and other
    settings with another (older or newer) credential. None for other logins."""
    url = settings.database_url
    if not url or not url.startswith("postgresql"):
        return None
    parsed = make_url(url)
    if not parsed.username or CREDENTIAL not in parsed.username:
        return None
    rest = dataclasses.replace(settings, database_url=None)
    return (parsed.host, parsed.port, parsed.database, rest)


# What a kernel or a script process inherits from the worker: where programs and libraries
# are, the user and locale, temporary files. Nothing else — no other OMEGA_* (the worker's own
# database URL), no cloud or Dask secrets.
PASSED_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "JUPYTER_PATH",
    "JUPYTER_DATA_DIR",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_RUNTIME_DIR",
    "IPYTHONDIR",
    "MPLBACKEND",
    "MPLCONFIGDIR",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "SYSTEMROOT",
)
PASSED_ENV_PREFIXES = ("LC_",)


def run_env(settings: Any, bucket: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a run's kernel (or script process): the worker's
    :data:`PASSED_ENV` plus the ``OMEGA_*`` variables that bind it to the run's store — the
    task's database URL (on PostgreSQL the run bucket's credential) and bucket."""
    env = {
        k: v for k, v in os.environ.items() if k in PASSED_ENV or k.startswith(PASSED_ENV_PREFIXES)
    }
    env.update(extra or {})
    env["OMEGA_DATABASE_URL"] = settings.resolved_database_url
    env["OMEGA_BUCKET"] = bucket
    env["OMEGA_HOME"] = str(settings.home)
    if settings.dask_address:
        env["OMEGA_DASK_ADDRESS"] = settings.dask_address
    if settings.trust_pickle:
        env["OMEGA_TRUST_PICKLE"] = "1"
    return env


def client_for_database(db: Any, bucket: str) -> Any:
    """A client of ``bucket`` in the database ``db`` (settings otherwise as resolved here)."""
    url = db.url.render_as_string(hide_password=False)
    return client_class()(Settings.resolve(database_url=url, bucket=bucket))


def worker_name() -> str:
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        address = socket.gethostname()
    return f"{address} pid={os.getpid()}"


# -- heartbeats: one thread per process beats every active run ---------------------------------
class _Heart:
    def __init__(self) -> None:
        self.active: dict[str, RunStore] = {}
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, run_id: str, store: RunStore) -> None:
        with self.lock:
            self.active[run_id] = store
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="omega-heartbeat")
                self.thread.daemon = True
                self.thread.start()

    def remove(self, run_id: str) -> None:
        with self.lock:
            self.active.pop(run_id, None)

    def _loop(self) -> None:
        stop = threading.Event()
        while not stop.wait(HEARTBEAT_SECONDS):
            with self.lock:
                groups: dict[tuple[int, str], tuple[RunStore, list[str]]] = {}
                for run_id, store in self.active.items():
                    key = (id(store.db), store.bucket)  # a store changes its bucket's runs only
                    groups.setdefault(key, (store, []))[1].append(run_id)
            for store, run_ids in groups.values():
                try:
                    store.beat(run_ids)
                except Exception:
                    pass  # a missed beat is retried on the next tick


_heart = _Heart()


@contextmanager
def heartbeat(store: RunStore, run_id: str) -> Iterator[None]:
    _heart.add(run_id, store)
    try:
        yield
    finally:
        _heart.remove(run_id)


# -- BLAS: one thread per worker thread ---------------------------------------------------------
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter: Any = None
_controller: Any = None


@contextmanager
def blas_pinned() -> Iterator[None]:
    """Limit BLAS to one thread while any task runs: on 2 cores, 2 BLAS threads per worker
    thread oversubscribe the CPU (a fit measured 7x slower). The limit is process-wide, hence
    counted: the last task to finish restores it."""
    global _blas_depth, _blas_limiter, _controller
    with _blas_lock:
        if _blas_depth == 0:
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
            _blas_limiter = _controller.limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
