"""Worker side of a script run: install the package once per version, call ``run(om, **kw)``.

Packages are unpacked into a cache folder per content hash (never the worker's site-packages),
so a version is installed once per worker machine and reused by every later run.
"""

from __future__ import annotations

import fcntl
import importlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import traceback as tb
import zipfile
from pathlib import Path
from typing import Any

from omega_jupyter.exceptions import ScriptPackageError

CACHE_ENV = "OMEGA_SCRIPT_CACHE"
_import_lock = threading.Lock()
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


def load_run(folder: Path, modules: list[str], name: str) -> Any:
    """The package's ``run`` callable, imported from ``folder`` (fresh if another version of
    the same modules was imported before)."""
    with _import_lock:
        path = str(folder)
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
        importlib.invalidate_caches()
        for module in modules:
            for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
                origin = getattr(sys.modules[loaded], "__file__", None) or ""
                if not origin.startswith(path):
                    del sys.modules[loaded]
        for module in modules:
            entry = getattr(importlib.import_module(module), "run", None)
            if callable(entry):
                return entry
    raise ScriptPackageError(
        f"script {name!r} defines no run(om, **kwargs) in its top-level module(s) "
        f"{', '.join(modules) or '(none found)'}"
    )


def run_script(spec: dict[str, Any]) -> dict:
    """Install and run a script for a recorded run; the run row gets result and output."""
    from omega_jupyter.logs.capture import capture_output
    from omega_jupyter.runtime.events import RunEvents
    from omega_jupyter.runtime.runs import RunStore
    from omega_jupyter.runtime.worker import client_from_payload, heartbeat, worker_name

    om = client_from_payload(spec["settings"])
    runs = RunStore(om.db, om.bucket)
    run_id, name = spec["run_id"], spec["name"]
    verdict, record = runs.begin(run_id, worker_name())
    stream = spec.get("result_stream")
    events = RunEvents(om, stream, run_id, "script", name, version=record.target_version)
    if verdict != "run":
        if verdict == "dead":  # Dask re-ran the task: the first worker died
            events.end(runs, "failed", "the worker running this script died")
        return {"state": runs.get(run_id).state}
    events.started(parameters=spec.get("parameters") or {})
    try:
        with heartbeat(runs, run_id), capture_output(om.logger, run_id):
            meta = om.scripts.metadata(
                f"{name}@{record.target_version}" if record.target_version else name
            )
            entry = load_run(install(om, meta), meta.kind_meta.get("modules", []), name)
            value = entry(om, **(spec.get("parameters") or {}))
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ScriptPackageError(f"run() must return JSON-able data: {exc}") from exc
    except Exception as exc:
        output = _output(om, run_id)
        error = f"{type(exc).__name__}: {exc}"
        stored = {"type": "value", "value": None, "output": output}
        events.end(runs, "failed", error, stored=stored, traceback=tb.format_exc())
        return {"state": "failed"}
    stored = {"type": "value", "value": value, "output": _output(om, run_id)}
    # the printed output stays in the run row and the log; the message carries the value
    events.end(runs, "succeeded", stored=stored, result={"type": "value", "value": value})
    return {"state": "succeeded"}


def _output(om: Any, run_id: str) -> str:
    """What the run printed (captured into the log, line by line)."""
    try:
        frame = om.logger.dataframe(run=run_id)
    except Exception:
        return ""
    return "\n".join(str(m) for m in frame["message"])
