"""Exceptions to HTTP answers: one table, shared by both mounts. No tornado import here."""

from __future__ import annotations

from omega_jupyter import exceptions as ex

# Checked in order: the first matching type decides. Names are looked up lazily so that error
# types added by other services later are mapped as soon as they exist.
_TABLE: tuple[tuple[str, int, str], ...] = (
    ("AuthenticationError", 401, "unauthorized"),
    ("PermissionDeniedError", 403, "forbidden"),
    ("PayloadTooLargeError", 413, "payload_too_large"),
    ("RunNotFoundError", 404, "not_found"),
    ("ObjectNotFoundError", 404, "not_found"),
    ("InvalidNameError", 400, "invalid_name"),
    ("InvalidFilterError", 400, "invalid_filter"),
    ("UnknownColumnError", 400, "unknown_column"),
    # the rows do not fit the stored dataset (an append): a conflict with its current state
    ("SchemaMismatchError", 409, "schema_mismatch"),
    ("SignatureMismatchError", 400, "signature_mismatch"),
    ("UnsupportedObjectError", 400, "unsupported_object"),
    ("ModelMethodError", 400, "unsupported_action"),
    ("UntrustedModelError", 400, "untrusted_model"),
    ("BadRequestError", 400, "bad_request"),
    ("ConcurrentWriteError", 409, "conflict"),
    ("DatabaseUnavailableError", 503, "database_unavailable"),
    ("RuntimeUnavailableError", 503, "runtime_unavailable"),
    ("SchemaOutdatedError", 503, "schema_outdated"),
)


def classify(exc: BaseException) -> tuple[int, str]:
    """The (status, error code) for ``exc``.

    Project errors map by type. A database connection lost mid-request (the session was
    terminated, the server restarted) is a 503 like a database that cannot be reached, and so
    is a SQLite write that waited in vain for another process's write lock (``database_busy``,
    answered with ``Retry-After``); a
    value or size the database refuses (SQLSTATE classes 22 and 54) is bad input. Plain
    ``ValueError``/``TypeError``/``KeyError`` raised while parsing or applying the request's
    own input (pandas parsers, Arrow, filters) are bad input, so they answer 400 rather than a
    bare 500. Anything else is a server fault (500).
    """
    for name, status, code in _TABLE:
        kind = getattr(ex, name, None)
        if kind is not None and isinstance(exc, kind):
            return status, code
    database = database_fault(exc)
    if database == "disconnect":
        return 503, "database_unavailable"
    if database == "busy":
        return 503, "database_busy"
    if database is not None:
        return 400, "bad_request"
    if isinstance(exc, ex.OmegaError):
        return 400, "bad_request"
    if isinstance(exc, ValueError | TypeError | KeyError | UnicodeDecodeError):
        return 400, "bad_request"
    return 500, "internal_error"


# SQLSTATE classes and codes (PostgreSQL; the drivers carry them) of a lost connection ...
_DISCONNECT_STATES = ("08", "57P01", "57P02", "57P03")
# ... and of data the database refuses: a value out of range or not valid text (22), a limit
# such as columns per table or bytes per row (54).
_REFUSED_DATA_STATES = {"22": "a value", "54": "the size"}
# What drivers say when the server went away without a SQLSTATE (psycopg, libpq via ADBC).
_DISCONNECT_TEXTS = (
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "connection already closed",
    "consuming input failed",
    "connection to server",
    "lost synchronization with server",
    "no connection to the server",
)

# What SQLite says when its busy timeout ran out behind another connection's write.
_BUSY_TEXTS = ("database is locked", "database table is locked")
# Seconds a client should wait before retrying a write refused as ``database_busy``.
BUSY_RETRY_AFTER = 5


def database_fault(exc: BaseException) -> str | None:
    """``"disconnect"`` if ``exc`` is a database connection lost mid-request, ``"busy"`` if
    SQLite gave up waiting for another connection's write lock, the SQLSTATE class
    ``"22"``/``"54"`` if the database refused the request's data, else None.

    Looks at the exception, the driver error SQLAlchemy wraps (``orig``) and the chain of
    causes and contexts (a clean-up that fails after a disconnect hides it as the context),
    by duck typing: SQLAlchemy, psycopg and ADBC errors all qualify, none is imported here.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "connection_invalidated", False):  # SQLAlchemy's is_disconnect
            return "disconnect"
        state = str(getattr(current, "sqlstate", None) or "")
        if state.startswith(_DISCONNECT_STATES):
            return "disconnect"
        if state[:2] in _REFUSED_DATA_STATES:
            return state[:2]
        kind = type(current).__name__
        if kind == "OperationalError":
            text = str(current).lower()
            if any(part in text for part in _DISCONNECT_TEXTS):
                return "disconnect"
            if any(part in text for part in _BUSY_TEXTS):
                return "busy"
        if kind == "PendingRollbackError" and "reconnect" in str(current):
            return "disconnect"  # SQLAlchemy: the connection was invalidated mid-transaction
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            current = orig
        else:  # the cause, or the error being handled when this one was raised
            current = current.__cause__ or current.__context__
    return None


# What a 503 tells the client: what is down, not where. Addresses, user names and driver
# messages go to the server log only (a public route such as /health answers these too).
UNAVAILABLE_MESSAGES = {
    "database_unavailable": "the omega database cannot be reached (the server log says why)",
    "runtime_unavailable": "the Dask cluster cannot be reached (the server log says why)",
    "database_busy": (
        "the database is busy with another process's write and this request waited in vain for "
        "it (a SQLite database takes one writing process at a time); retry shortly"
    ),
}


def public_message(exc: BaseException, status: int, code: str) -> str:
    """The message an error answer carries: the exception's own for client errors and for
    project errors that hold no secrets, a fixed text for the other 5xx."""
    refused = database_fault(exc) if status == 400 else None
    if refused in _REFUSED_DATA_STATES:  # the driver's text may quote SQL: not for clients
        return (
            f"the database refused {_REFUSED_DATA_STATES[refused]} of the request's data "
            "(out of range, not valid text, or beyond a limit such as a row's size)"
        )
    if status < 500 or (isinstance(exc, ex.OmegaError) and code not in UNAVAILABLE_MESSAGES):
        return message_of(exc)
    return UNAVAILABLE_MESSAGES.get(code, "internal server error")


def message_of(exc: BaseException) -> str:
    """A one-line message for ``exc`` (KeyError would otherwise print its argument's repr)."""
    if isinstance(exc, KeyError) and not isinstance(exc, ex.OmegaError) and exc.args:
        text = f"unknown key {exc.args[0]!r}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())[:2000]


# Codes for plain HTTP statuses (unknown route, method not allowed, XSRF refused …).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
    503: "unavailable",
}
