"""Script runs, a kind of run: ``om.runtime.script(name).run(**kwargs)``.

On the worker the package is installed once per version and its ``run(om, **kw)`` called in a
child process with the run's scrubbed environment and credential (``scripts/child.py``); the
run lifecycle around it is the runtime's (``runtime/lifecycle.py``).

Packages are unpacked into a cache folder per content hash (never the worker's site-packages),
so a version is installed once per worker machine and reused by every later run.
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

from omega_jupyter.exceptions import ScriptPackageError
from omega_jupyter.names import validate_name
from omega_jupyter.runtime.child_process import run_apart
from omega_jupyter.runtime.events import check_stream
from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.kinds import Outcome, Run, RunKind
from omega_jupyter.runtime.worker import run_env
from omega_jupyter.scripts import child

CACHE_ENV = "OMEGA_SCRIPT_CACHE"
_install_lock = threading.Lock()


def cache_root() -> Path:
    root = os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / f"omega-scripts-{os.getuid()}"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def install(om: Any, meta: Any) -> Path:
    """The folder holding this package version, unpacked on first use (process- and
    thread-safe: concurrent first runs wait for one install)."""
    key = str(meta.kind_meta.get("sha256", ""))[:20] or f"{meta.name}-{meta.version}"
    root = cache_root()
    target = root / key
    if (target / ".complete").exists():
        return target
    with _install_lock, (root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other worker processes on this machine
        if (target / ".complete").exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
        try:
            with om.scripts.blobs.open(meta.location or "") as reader:
                data = reader.readall()
            _unpack(data, staging)
            (staging / ".complete").touch()
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except (zipfile.BadZipFile, OSError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ScriptPackageError(f"cannot install script {meta.name!r}: {exc}") from exc
    return target


def _unpack(wheel: bytes, target: Path) -> None:
    """Unpack a wheel: its root and its ``*.data/purelib|platlib`` go to ``target``."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            dest = target.joinpath(*parts)
            if not dest.resolve().is_relative_to(target.resolve()):
                raise ScriptPackageError(f"the wheel has an unsafe path {info.filename!r}")
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(info))


class ScriptRunner:
    """``om.runtime.script(name)``: install a stored script package on a worker and call run()."""

    def __init__(self, runtime: Any, name: str) -> None:
        self.runtime = runtime
        self.om = runtime.om
        self.name = validate_name(name)

    def run(
        self,
        *,
        result_stream: str | None = None,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        """Call the package's ``run(om, **kwargs)`` on a worker; returns the run's handle.
        ``result_stream`` names a stream that gets a ``started`` and a ``finished`` message
        of the run; ``max_retries`` (default 0: a script may have done half its work) how
        often the run is tried again should it lose its worker. Neither is passed on to the
        script."""
        result_stream = check_stream(result_stream)
        meta = self.om.scripts.metadata(self.name)
        return self.runtime.start(
            "script",
            self.name,
            version=meta.version,
            parameters=dict(kwargs),
            result_stream=result_stream,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"ScriptRunner({self.name!r})"


def execute(run: Run) -> Outcome:
    """Install and run a script for a recorded run in a child process (``scripts/child.py``)
    with the run's scrubbed environment: on PostgreSQL its only credential is the run
    bucket's, and the worker's other clients and environment are out of its reach. The run
    row gets result and output."""
    om, run_id, name = run.om, run.id, run.name
    try:
        meta = om.scripts.metadata(f"{name}@{run.version}" if run.version else name)
        folder = install(om, meta)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        return Outcome("failed", {"type": "value", "value": None, "output": ""}, error=error)
    spec = {
        "run_id": run_id,
        "name": name,
        "folder": str(folder),
        "modules": meta.kind_meta.get("modules", []),
        "parameters": run.parameters,
    }
    answer = run_apart(child.__file__, spec, run_env(om.settings, om.bucket), "script")
    if "error" in answer:
        stored = {"type": "value", "value": None, "output": _output(om, run_id)}
        return Outcome("failed", stored, error=answer["error"], traceback=answer.get("traceback"))
    value = answer["result"]
    stored = {"type": "value", "value": value, "output": _output(om, run_id)}
    # the printed output stays in the run row and the log; the message carries the value
    return Outcome("succeeded", stored, published={"type": "value", "value": value})


def _output(om: Any, run_id: str) -> str:
    """What the run printed (captured into the log, line by line)."""
    try:
        frame = om.logger.dataframe(run=run_id)
    except Exception:
        return ""
    return "\n".join(str(m) for m in frame["message"])


SCRIPT_RUN = RunKind("script", execute, front=ScriptRunner, noun="script")
