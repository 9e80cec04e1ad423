"""``omega://`` for papermill: notebooks are read from and written to the store, no temp files.

``omega://reports/daily`` reads the job ``reports/daily`` of the default client and writes a
new version of it. A run registers its own paths (``omega://run-<id>/input`` and ``/output``)
with :func:`route`, bound to the run's client; writes to a run's output path go to a callback
(per-cell progress, the executed notebook kept until the run stores it as its result).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import nbformat

import omega_jupyter

SCHEME = "omega://"


@dataclass
class Route:
    client: Any  # an Omega client
    name: str | None = None  # the job read by this path
    on_write: Callable[[str], None] | None = None


_routes: dict[str, Route] = {}
_routes_lock = threading.Lock()


@contextmanager
def route(path: str, client: Any, name: str | None = None, on_write: Any = None) -> Iterator[str]:
    """Bind ``path`` to ``client`` (and a write callback) while the block runs.

    Paths are process-wide rather than per thread: nbclient may save from its own thread.
    """
    with _routes_lock:
        _routes[path] = Route(client, name, on_write)
    try:
        yield path
    finally:
        with _routes_lock:
            _routes.pop(path, None)


def _resolve(path: str) -> tuple[Route | None, Any, str]:
    with _routes_lock:
        found = _routes.get(path)
    if found is not None:
        return found, found.client, found.name or ""
    return None, omega_jupyter.get_default(), path[len(SCHEME) :]


class OmegaHandler:
    """papermill I/O for ``omega://`` paths (registered as a ``papermill.io`` entry point)."""

    @classmethod
    def read(cls, path: str) -> str:
        _route, client, name = _resolve(path)
        store = client.jobs
        return store.notebooks.read_text(store.notebooks.resolve(name))

    @classmethod
    def write(cls, buf: str, path: str) -> None:
        found, client, name = _resolve(path)
        if found is not None and found.on_write is not None:
            found.on_write(buf)
            return
        client.jobs.put(nbformat.reads(buf, as_version=4), name)

    @classmethod
    def listdir(cls, path: str) -> list[str]:
        _route, client, prefix = _resolve(path)
        prefix = prefix.rstrip("/")
        names = client.jobs.list(f"{prefix}/*" if prefix else None)
        return [f"{SCHEME}{n}" for n in names]

    @classmethod
    def pretty_path(cls, path: str) -> str:
        return path
