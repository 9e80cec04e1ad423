"""Exceptions as one clear line on stderr: what went wrong, never a traceback (unless --debug)."""

from __future__ import annotations

import sys

from omega_jupyter.exceptions import describe_error, one_line

EXIT_ERROR = 1
__all__ = ["EXIT_ERROR", "describe", "one_line", "report"]


def describe(exc: BaseException) -> str:
    """The message a user sees for ``exc``; unexpected errors say how to see more."""
    return describe_error(exc, "run with --debug for the traceback")


def report(exc: BaseException) -> None:
    """Write ``error: <message>`` as one line on stderr."""
    # Plain write, not rich: rich would wrap a long message over several lines.
    sys.stderr.write(f"error: {describe(exc)}\n")
    sys.stderr.flush()
