"""Who is acting: recorded with every object version written (``om_objects.created_by``).

Surfaces set it for the work they do on someone's behalf — the REST server to the API key
(``key:<id>``) for the length of a request, the Jupyter extension to the Jupyter user
(``jupyter:<name>``) — with :func:`acting_as`. Elsewhere (Python, CLI, magics) it is the
operating-system user (``os:<login>``). A context variable: concurrent requests in one
server each see their own.
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_actor: ContextVar[str | None] = ContextVar("omega_actor", default=None)


def current_actor() -> str | None:
    """Who the current write is made by."""
    actor = _actor.get()
    if actor is not None:
        return actor
    return _os_actor()


@functools.cache
def _os_actor() -> str | None:
    # looked up once per process: getpwuid costs a millisecond and more on a busy machine, and
    # experiment events ask for every event they log
    try:
        return f"os:{getpass.getuser()}"
    except Exception:  # no login name (some containers): record nobody rather than fail
        return None


def set_actor(actor: str | None) -> None:
    """Set the actor for the rest of this context (a request handler's own context)."""
    _actor.set(actor[:255] if actor else actor)


@contextmanager
def acting_as(actor: str | None) -> Iterator[None]:
    """Attribute the writes inside the block to ``actor``."""
    token = _actor.set(actor[:255] if actor else actor)
    try:
        yield
    finally:
        _actor.reset(token)
