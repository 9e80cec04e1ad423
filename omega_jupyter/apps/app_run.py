"""Apps, a kind of run: ``om.runtime.app(name).start() / stop() / restart() / status() / logs()``.

An app is a stored script package (its ``app`` object, WSGI or ASGI, see ``apps/child.py``)
or a stored notebook (served read-only with Voilà; the URL query sets the variables its
``parameters`` cell declares). A running app is a run of kind ``app``: the run lifecycle
(``runtime/lifecycle.py``) begins it on a Dask worker and beats while its ``execute`` body
supervises the app's process, a child of the worker with the run's scrubbed environment and
its bucket's credential only. The run's ``progress`` says where the app listens
(``host``, ``port``), whether it is ``serving``, and how often it ``crashes``-ed.

- ``stop`` cancels the run; the body sees it, ends the process and marks ``stopped`` in the
  progress; ``stop()`` returns once the port is free.
- A process that exits by itself crashed: it is started again after a back-off (1 s, 2 s,
  4 s …) until it crashed ``app_max_crashes`` times (setting; default 3), then the run fails.
- A worker that dies takes its apps' processes along (their watchdog); the reconciler fails
  the run (its heartbeat stopped) and retries it on another worker per ``max_retries``.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from omega_jupyter.apps import child
from omega_jupyter.exceptions import InvalidParameterError, ObjectNotFoundError, RunTimeoutError
from omega_jupyter.logs.logger import current_run
from omega_jupyter.names import validate_name
from omega_jupyter.runtime.kinds import Outcome, Run, RunKind
from omega_jupyter.runtime.worker import run_env

log = logging.getLogger("omega_jupyter.apps")

ACTIVE = ("queued", "running")
BACKOFF_SECONDS = 1.0  # the first restart's back-off; doubled per crash
READY_SECONDS = 120.0  # the longest a process may take to listen before it counts as crashed
POLL_SECONDS = 0.2
STOP_SECONDS = 10.0  # SIGTERM, then this long, then SIGKILL


def base_url(name: str) -> str:
    """The path an app is served under on its own port (and through ``om serve``)."""
    return f"/apps/{name}/"


class AppRunner:
    """``om.runtime.app(name)``: start, stop and look at one app of the client's bucket."""

    def __init__(self, runtime: Any, name: str) -> None:
        self.runtime = runtime
        self.om = runtime.om
        self.name = validate_name(name)

    # -- what the name is -----------------------------------------------------------------
    def source(self) -> tuple[str, Any]:
        """(``"script"`` | ``"notebook"``, metadata): a script package of that name first,
        else a notebook (ObjectNotFoundError if neither exists)."""
        if self.om.scripts.exists(self.name):
            return "script", self.om.scripts.metadata(self.name)
        if self.om.jobs.exists(self.name):
            return "notebook", self.om.jobs.metadata(self.name)
        raise ObjectNotFoundError(
            f"app {self.name!r}: no script package or notebook of that name in bucket "
            f"{self.om.bucket!r}"
        )

    # -- actions --------------------------------------------------------------------------
    def start(
        self,
        wait: bool = True,
        timeout: float = 120.0,
        max_crashes: int | None = None,
        max_retries: int | None = None,
    ) -> dict[str, Any]:
        """Start the app (a run of kind ``app`` on a worker); an app that is already queued or
        running is left as it is. ``wait``: return once it serves (or failed), at most
        ``timeout`` seconds. ``max_crashes`` (default: setting ``app_max_crashes``) crashes
        after which the run fails; ``max_retries`` (default 1) times it is started again on
        another worker should its worker die. Returns :meth:`status`."""
        if self._active() is None:
            source, meta = self.source()
            crashes = self.om.settings.app_max_crashes if max_crashes is None else max_crashes
            if isinstance(crashes, bool) or not isinstance(crashes, int) or crashes < 1:
                raise InvalidParameterError(f"max_crashes must be an integer >= 1, not {crashes}")
            self.runtime.start(
                "app",
                self.name,
                version=meta.version,
                parameters={},
                max_retries=1 if max_retries is None else max_retries,
                source=source,
                max_crashes=int(crashes),
            )
        if wait:
            return self.wait(timeout)
        return self.status()

    def stop(self, timeout: float = 30.0) -> dict[str, Any]:
        """Stop the app: its run is cancelled, its process ended and its port freed (this
        returns once the process is gone, at most ``timeout`` seconds). Returns :meth:`status`."""
        record = self._active()
        if record is not None:
            handle = self.runtime.run(record.id)
            handle.cancel()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                progress = self.runtime.run_record(record.id).progress or {}
                if progress.get("stopped") or not progress.get("pid"):
                    break
                time.sleep(POLL_SECONDS)
        return self.status()

    def restart(self, timeout: float = 120.0) -> dict[str, Any]:
        """Stop the app if it runs, then start it (with the newest stored version)."""
        self.stop()
        return self.start(timeout=timeout)

    def wait(self, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the app serves; RunTimeoutError after ``timeout`` seconds. An app whose
        run ended (failed) is returned as it is."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status["serving"] or status["state"] not in ACTIVE:
                return status
            if time.monotonic() > deadline:
                raise RunTimeoutError(f"app {self.name!r} does not serve after {timeout:g} s")
            time.sleep(0.1)

    # -- looking at it --------------------------------------------------------------------
    def _latest(self) -> Any:
        frame = self.runtime.runs_store.list(target=self.name, kind="app", limit=1)
        if frame.empty:
            return None
        return self.runtime.run_record(frame["id"].iloc[0])

    def _active(self) -> Any:
        record = self._latest()
        return record if record is not None and record.state in ACTIVE else None

    def status(self) -> dict[str, Any]:
        """The app's state: ``name``, ``state`` (its latest run's: queued, running, failed,
        cancelled — or ``stopped`` if it never ran), ``serving``, ``run_id``, ``source``,
        ``host``, ``port``, ``pid``, ``crashes``, ``started``, ``heartbeat``, ``error``,
        ``path`` (where ``om serve`` serves it). ObjectNotFoundError for a name that is
        neither stored nor ever ran."""
        record = self._latest()
        if record is None:
            self.source()
        return describe(self.name, record)

    def logs(self, limit: int = 200) -> list[str]:
        """The last ``limit`` lines the app's latest run logged (its process's output)."""
        record = self._latest()
        if record is None:
            return []
        frame = self.om.logger.dataframe(run=record.id)
        lines = [
            f"{stamp:%Y-%m-%d %H:%M:%S} {level} {message}"
            for stamp, level, message in zip(
                frame["created"], frame["levelname"], frame["message"], strict=False
            )
        ]
        return lines[-limit:] if limit else lines

    def __repr__(self) -> str:
        return f"AppRunner({self.name!r})"


def describe(name: str, record: Any) -> dict[str, Any]:
    """An app's status (see :meth:`AppRunner.status`) from its latest run row."""
    progress = (record.progress if record is not None else None) or {}
    running = record is not None and record.state == "running"
    return {
        "name": name,
        "state": record.state if record is not None else "stopped",
        "serving": bool(running and progress.get("serving") and not progress.get("stopped")),
        "run_id": record.id if record is not None else None,
        "source": progress.get("source"),
        "host": progress.get("host"),
        "port": progress.get("port"),
        "pid": progress.get("pid"),
        "crashes": int(progress.get("crashes") or 0),
        "started": record.started.isoformat() if record is not None and record.started else None,
        "heartbeat": (
            record.heartbeat.isoformat() if record is not None and record.heartbeat else None
        ),
        "error": record.error if record is not None else None,
        "path": base_url(name),
    }


def list_apps(om: Any) -> list[dict[str, Any]]:
    """Every app of ``om``'s bucket that ever ran, with its status (newest run per name)."""
    frame = om.runtime.runs_store.list(kind="app", limit=None)
    seen: dict[str, Any] = {}
    for run_id, target in zip(frame["id"], frame["target"], strict=False):
        if target not in seen:
            seen[target] = om.runtime.run_record(run_id)
    return [describe(name, seen[name]) for name in sorted(seen)]


def serving_address(om: Any, name: str) -> dict[str, Any] | None:
    """Where app ``name`` of ``om``'s bucket serves (``host``, ``port``, ``source``), or None
    if it does not (no such app, or not running): what the proxy forwards to."""
    status = AppRunner(om.runtime, name).status()
    if not status["serving"]:
        return None
    return {"host": status["host"], "port": status["port"], "source": status["source"]}


# -- the worker side ----------------------------------------------------------------------------
def execute(run: Run) -> Outcome:
    """Supervise the app's process until the run is cancelled (stop) or it crashed
    ``max_crashes`` times; the lifecycle beats meanwhile."""
    om = run.om
    name, source = run.name, run.spec.get("source") or "script"
    max_crashes = int(run.spec.get("max_crashes") or om.settings.app_max_crashes)
    workdir = Path(tempfile.mkdtemp(prefix="omega-app-"))
    launch = _prepare(om, run, source, workdir)
    host = om.settings.app_bind
    crashes = 0
    while True:
        port = _free_port(host)
        spec = {**launch, "name": name, "host": host, "port": port, "base_url": base_url(name)}
        proc = _spawn(spec, run_env(om.settings, om.bucket), workdir)
        _pump(om, run.id, proc)
        state = {
            "source": source,
            "host": _advertised(host),
            "port": port,
            "pid": proc.pid,
            "crashes": crashes,
            "serving": False,
        }
        run.progress(state)
        ended = _supervise(run, proc, host, port, state)
        if ended == "stopped":
            _end_process(proc)
            run.progress({**state, "serving": False, "stopped": True})
            return Outcome("cancelled", error="stopped")
        crashes += 1
        code = proc.returncode
        om.logger.error(f"app {name!r} exited with code {code} (crash {crashes})", run_id=run.id)
        run.progress({**state, "serving": False, "crashes": crashes, "exit_code": code})
        if crashes >= max_crashes:
            return Outcome(
                "failed",
                error=f"the app crashed {crashes} times (last exit code {code}); see its logs",
            )
        if _stopped_within(run, BACKOFF_SECONDS * 2 ** (crashes - 1)):
            run.progress({**state, "serving": False, "crashes": crashes, "stopped": True})
            return Outcome("cancelled", error="stopped")


def _prepare(om: Any, run: Run, source: str, workdir: Path) -> dict[str, Any]:
    """What the child serves: an installed script package, or the notebook as a file."""
    if source == "script":
        from omega_jupyter.scripts.script_run import install

        meta = om.scripts.metadata(f"{run.name}@{run.version}" if run.version else run.name)
        folder = install(om, meta)
        return {"interface": "script", "folder": str(folder), "modules": meta.kind_meta["modules"]}
    notebook = om.jobs.get(f"{run.name}@{run.version}" if run.version else run.name)
    path = workdir / f"{run.name.replace('/', '_')}.ipynb"
    path.write_text(json.dumps(with_url_parameters(notebook)))
    return {"interface": "voila", "notebook": str(path)}


def with_url_parameters(notebook: Any) -> dict:
    """The notebook (as JSON) with a cell after its ``parameters`` cell that sets each
    variable the parameters cell assigns from the URL query (Voilà gives the kernel the
    query as ``QUERY_STRING``), converted to the type of its default."""
    nb = json.loads(json.dumps(notebook))
    cells = nb.get("cells", [])
    for index, cell in enumerate(cells):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") == "code" and "parameters" in tags:
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            names = _assigned(source)
            if names:
                code = _PARAMETER_CELL.format(names=sorted(names))
                cells.insert(index + 1, _code_cell(code))
            break
    return nb


_PARAMETER_CELL = """\
import os as _om_os, urllib.parse as _om_url
_om_query = dict(_om_url.parse_qsl(_om_os.environ.get("QUERY_STRING", "")))
for _om_name in {names}:
    if _om_name in _om_query:
        _om_default, _om_text = globals().get(_om_name), _om_query[_om_name]
        if isinstance(_om_default, bool):
            _om_value = _om_text.lower() in ("1", "true", "yes", "on")
        elif isinstance(_om_default, (int, float)):
            _om_value = type(_om_default)(_om_text)
        else:
            _om_value = _om_text
        globals()[_om_name] = _om_value
"""


def _code_cell(code: str) -> dict:
    return {
        "cell_type": "code",
        "id": "omega-url-parameters",
        "metadata": {"tags": ["injected-parameters"]},
        "source": code,
        "outputs": [],
        "execution_count": None,
    }


def _assigned(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _advertised(host: str) -> str:
    """The host a proxy reaches the app at: the bind address, or for 0.0.0.0 the worker's."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    try:
        from distributed import get_worker

        return get_worker().address.split("://")[-1].rsplit(":", 1)[0]
    except (ImportError, ValueError):
        return socket.gethostbyname(socket.gethostname())


def _spawn(spec: dict, env: dict[str, str], workdir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, child.__file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
        start_new_session=True,  # its own process group: stop ends it and what it started
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec) + "\n")
    proc.stdin.close()
    return proc


def _pump(om: Any, run_id: str, proc: subprocess.Popen) -> None:
    """Copy the process's output to ``om.logger``, line by line, as the run's."""

    def pump() -> None:
        current_run.set(run_id)
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                try:
                    om.logger.info(line, run_id=run_id)
                except Exception:  # the log is best effort; the app runs on
                    pass

    threading.Thread(target=pump, name=f"omega-app-log-{run_id[:8]}", daemon=True).start()


def _is_stopped(run: Run) -> bool:
    try:
        return run.runs.get(run.id).state != "running"
    except Exception:
        return False  # the database briefly away: ask again on the next poll


def _stopped_within(run: Run, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _is_stopped(run):
            return True
        time.sleep(POLL_SECONDS)
    return _is_stopped(run)


def _supervise(run: Run, proc: subprocess.Popen, host: str, port: int, state: dict) -> str:
    """Until the run is stopped (``"stopped"``) or the process exits (``"exited"``); marks
    the app serving once its port accepts connections."""
    connect = "127.0.0.1" if host in ("0.0.0.0", "") else host
    serving = False
    started = time.monotonic()
    last_check = 0.0
    while True:
        if proc.poll() is not None:
            return "exited"
        if not serving:
            try:
                with socket.create_connection((connect, port), timeout=0.5):
                    serving = True
                run.progress({**state, "serving": True})
            except OSError:
                if time.monotonic() - started > READY_SECONDS:
                    _end_process(proc)
                    return "exited"
        now = time.monotonic()
        if now - last_check >= 1.0:
            last_check = now
            if _is_stopped(run):
                return "stopped"
        time.sleep(POLL_SECONDS if serving else 0.05)


def _end_process(proc: subprocess.Popen) -> None:
    """SIGTERM to the app's process group, SIGKILL if it is still there after a while."""
    for sig, wait in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever it left behind in its group
    except (ProcessLookupError, PermissionError):
        pass


APP_RUN = RunKind("app", execute, front=AppRunner, noun="app")
