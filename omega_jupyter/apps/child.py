"""The process an app runs in: ``python .../child.py`` with the app (JSON) on stdin.

Started by ``app_run.execute`` on a worker with the run's scrubbed environment
(``runtime.worker.run_env``: on PostgreSQL its only database URL is the app bucket's
credential). It serves one of

- ``wsgi`` / ``asgi``: a script package's app object, with uvicorn on ``host:port``;
- ``voila``: a notebook file, with Voilà under the base URL ``/apps/{name}/``.

The platform's proxy strips its mount (``/apps/{name}``) from the path and sends it as the
``X-Forwarded-Prefix`` header; a WSGI app gets it as ``SCRIPT_NAME``, an ASGI app as
``root_path``, so the URLs an app builds (``url_for``) point back through the proxy.

A watchdog ends the process when its parent (the worker) is gone, so an app never outlives
its worker holding the port.

How a package declares its app: its top-level module has an ``app`` attribute (a Flask or
other WSGI app, or a Starlette/FastAPI or other ASGI app), or a ``create_app()`` factory
returning one. ``APP_INTERFACE = "wsgi"`` or ``"asgi"`` in the module says which; without it
an object whose ``__call__`` is a coroutine function is ASGI, anything else WSGI.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__" and sys.path and sys.path[0] == str(Path(__file__).parent):
    sys.path.pop(0)  # run as a file: this folder is no place to import from

PREFIX_HEADER = "x-forwarded-prefix"


def load_app(folder: str, modules: list[str], name: str) -> tuple[Any, str]:
    """The package's app object and its interface (``wsgi`` or ``asgi``)."""
    sys.path.insert(0, folder)
    for module_name in modules:
        module = importlib.import_module(module_name)
        app = getattr(module, "app", None)
        if app is None and callable(getattr(module, "create_app", None)):
            app = module.create_app()
        if app is None:
            continue
        interface = getattr(module, "APP_INTERFACE", None) or detect_interface(app)
        if interface not in ("wsgi", "asgi"):
            raise ValueError(f"APP_INTERFACE must be 'wsgi' or 'asgi', not {interface!r}")
        return app, interface
    raise LookupError(
        f"script {name!r} has no app: define `app` (a WSGI or ASGI app) or `create_app()` "
        f"in its top-level module(s) {', '.join(modules) or '(none found)'}"
    )


def detect_interface(app: Any) -> str:
    call = app if inspect.isfunction(app) else getattr(app, "__call__", None)  # noqa: B004
    return "asgi" if inspect.iscoroutinefunction(call) else "wsgi"


def wsgi_prefixed(app: Any) -> Any:
    def wrapped(environ: dict, start_response: Any) -> Any:
        prefix = environ.get("HTTP_X_FORWARDED_PREFIX")
        if prefix:
            environ["SCRIPT_NAME"] = prefix.rstrip("/")
        return app(environ, start_response)

    return wrapped


def asgi_prefixed(app: Any) -> Any:
    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket"):
            for key, value in scope.get("headers") or []:
                if key.decode("latin-1").lower() == PREFIX_HEADER:
                    scope = dict(scope, root_path=value.decode("latin-1").rstrip("/"))
                    break
        await app(scope, receive, send)

    return wrapped


def watch_parent() -> None:
    """End this process (and what it started) once the worker that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="omega-app-watchdog", daemon=True).start()


def serve(spec: dict) -> None:
    host, port = spec["host"], int(spec["port"])
    if spec["interface"] == "voila":
        from voila.app import main

        sys.argv = [
            "voila",
            spec["notebook"],
            "--no-browser",
            f"--port={port}",
            f"--Voila.ip={host}",
            f"--Voila.base_url={spec['base_url']}",
            "--Voila.port_retries=0",
        ]
        main()
        return
    import uvicorn

    app, interface = load_app(spec["folder"], spec["modules"], spec["name"])
    print(f"serving {spec['name']!r} ({interface}) on {host}:{port}", flush=True)
    if interface == "wsgi":
        uvicorn.run(wsgi_prefixed(app), host=host, port=port, interface="wsgi", access_log=False)
    else:
        uvicorn.run(asgi_prefixed(app), host=host, port=port, interface="asgi3", access_log=False)


if __name__ == "__main__":
    watch_parent()
    serve(json.loads(sys.stdin.readline()))
