"""Exceptions as one clear line on stderr: what went wrong, never a traceback (unless --debug)."""

from __future__ import annotations

import sys

from sqlalchemy.exc import DBAPIError

from omega_jupyter.exceptions import OmegaError

EXIT_ERROR = 1


def one_line(text: str) -> str:
    """Collapse a (possibly multi-line) message into a single line."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def describe(exc: BaseException) -> str:
    """The message a user sees for ``exc``; unexpected errors say how to see more."""
    if isinstance(exc, OmegaError):
        return one_line(str(exc))
    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().splitlines() if exc.orig is not None else []
        return f"database error: {reason[0] if reason else type(exc).__name__}"
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename or exc}"
    if isinstance(exc, IsADirectoryError):
        return f"is a directory: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    if isinstance(exc, KeyError):
        return one_line(str(exc.args[0]) if exc.args else "not found")
    if isinstance(exc, ValueError | TypeError):
        return one_line(str(exc)) or type(exc).__name__
    return f"{type(exc).__name__}: {one_line(str(exc))} (run with --debug for the traceback)"


def report(exc: BaseException) -> None:
    """Write ``error: <message>`` as one line on stderr."""
    # Plain write, not rich: rich would wrap a long message over several lines.
    sys.stderr.write(f"error: {describe(exc)}\n")
    sys.stderr.flush()
