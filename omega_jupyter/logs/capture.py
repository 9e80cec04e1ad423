"""Capture stdout/stderr of a run into the log, without touching other threads' output.

``sys.stdout`` is shared by every thread of a process (a thread-based Dask worker shares it with
the notebook), so a proxy routes only the writes of threads registered for a run.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

_routes: dict[int, tuple[Any, str | None, dict[str, list[str]]]] = {}
_install_lock = threading.Lock()
_busy = threading.local()  # guards against recursion when logging itself prints


class _StreamProxy:
    def __init__(self, original: IO[str], stream: str, level: str) -> None:
        self._original = original
        self._stream = stream
        self._level = level

    def write(self, text: str) -> int:
        route = _routes.get(threading.get_ident())
        if route is not None and not getattr(_busy, "on", False):
            logger, run_id, buffers = route
            pending = buffers.setdefault(self._stream, [])
            pending.append(text)
            if "\n" in text:
                lines = "".join(pending).split("\n")
                pending[:] = [lines.pop()] if lines[-1] else []
                self._emit(logger, run_id, lines)
        return self._original.write(text)

    def _emit(self, logger: Any, run_id: str | None, lines: list[str]) -> None:
        _busy.on = True
        try:
            for line in lines:
                if line.strip():
                    logger.log(self._level, line, run_id=run_id, stream=self._stream)
        except Exception:
            pass  # never let logging break the user's print()
        finally:
            _busy.on = False

    def flush_route(self, route: tuple[Any, str | None, dict[str, list[str]]]) -> None:
        logger, run_id, buffers = route
        rest = "".join(buffers.pop(self._stream, []))
        if rest:
            self._emit(logger, run_id, [rest])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def _install() -> tuple[_StreamProxy, _StreamProxy]:
    with _install_lock:
        if not isinstance(sys.stdout, _StreamProxy):
            sys.stdout = _StreamProxy(sys.stdout, "stdout", "INFO")  # type: ignore[assignment]
        if not isinstance(sys.stderr, _StreamProxy):
            sys.stderr = _StreamProxy(sys.stderr, "stderr", "WARNING")  # type: ignore[assignment]
        return sys.stdout, sys.stderr  # type: ignore[return-value]


@contextmanager
def capture_output(logger: Any, run_id: str | None) -> Iterator[None]:
    """Within the block, lines this thread prints go to ``logger`` as well as to the stream."""
    out, err = _install()
    ident = threading.get_ident()
    route = (logger, run_id, {})
    _routes[ident] = route
    try:
        yield
    finally:
        _routes.pop(ident, None)
        out.flush_route(route)
        err.flush_route(route)
