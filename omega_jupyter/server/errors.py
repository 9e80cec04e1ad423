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
    ("SchemaMismatchError", 400, "schema_mismatch"),
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

    Project errors map by type. Plain ``ValueError``/``TypeError``/``KeyError`` raised while
    parsing or applying the request's own input (pandas parsers, Arrow, filters) are bad input,
    so they answer 400 rather than a bare 500. Anything else is a server fault (500).
    """
    for name, status, code in _TABLE:
        kind = getattr(ex, name, None)
        if kind is not None and isinstance(exc, kind):
            return status, code
    if isinstance(exc, ex.OmegaError):
        return 400, "bad_request"
    if isinstance(exc, ValueError | TypeError | KeyError | UnicodeDecodeError):
        return 400, "bad_request"
    return 500, "internal_error"


# What a 503 tells the client: what is down, not where. Addresses, user names and driver
# messages go to the server log only (a public route such as /health answers these too).
UNAVAILABLE_MESSAGES = {
    "database_unavailable": "the omega database cannot be reached (the server log says why)",
    "runtime_unavailable": "the Dask cluster cannot be reached (the server log says why)",
}


def public_message(exc: BaseException, status: int, code: str) -> str:
    """The message an error answer carries: the exception's own for client errors and for
    project errors that hold no secrets, a fixed text for the other 5xx."""
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
