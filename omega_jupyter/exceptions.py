"""Every error the project raises on purpose. Each says what was wrong and what to do."""

from __future__ import annotations


class OmegaError(Exception):
    """Base class of all omega_jupyter errors."""


class ConfigurationError(OmegaError):
    """A setting is missing or malformed."""


class DatabaseUnavailableError(OmegaError):
    """The configured database cannot be reached."""


class SchemaOutdatedError(OmegaError):
    """The database schema is older than this version of omega_jupyter."""


class InvalidNameError(OmegaError, ValueError):
    """An object or bucket name is not acceptable."""


class ObjectNotFoundError(OmegaError, KeyError):
    """No object of that name (or version) exists in the store."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0]) if self.args else "object not found"


class UnsupportedObjectError(OmegaError, TypeError):
    """No storage backend accepts the object (or the requested kind)."""


class SchemaMismatchError(OmegaError, ValueError):
    """Appended data does not have the columns and dtypes of the stored data."""


class InvalidParameterError(OmegaError, ValueError):
    """A ``key=value`` parameter is malformed (the key must be a Python identifier)."""


class InvalidQueryError(OmegaError, ValueError):
    """A SQL query over datasets is not one read-only SELECT, or names something that is not
    a dataset; nothing was run."""


class InvalidFilterError(OmegaError, ValueError):
    """A filter names an unknown column or operator, or has a malformed value."""


class ConcurrentWriteError(OmegaError):
    """A write could not be made visible because of competing writers; retry it."""


class UnknownColumnError(OmegaError, KeyError):
    """A column named in a selection or filter does not exist in the dataset."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown column"


class UntrustedModelError(OmegaError):
    """A stored model would need pickle (or untrusted types) to load and that is not allowed."""


class SignatureMismatchError(OmegaError, ValueError):
    """Prediction input lacks columns the model was fitted on."""


class ModelMethodError(OmegaError, AttributeError):
    """The model has no method for the requested runtime action."""


class RuntimeUnavailableError(OmegaError):
    """The Dask scheduler cannot be reached."""


class RunFailedError(OmegaError):
    """A run ended failed or cancelled; the message carries its error."""

    def __init__(self, message: str, run_id: str | None = None, state: str = "failed") -> None:
        super().__init__(message)
        self.run_id = run_id
        self.state = state


class RunNotFoundError(OmegaError, KeyError):
    """No run with that id exists."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "run not found"


class GroupNotFoundError(RunNotFoundError):
    """No run group with that id exists (in this bucket)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "run group not found"


class RunTimeoutError(OmegaError, TimeoutError):
    """A run did not finish within the time waited for it (it keeps running)."""


class BadRequestError(OmegaError, ValueError):
    """A request (REST body, query or header) is malformed; the message says what to send."""


class AuthenticationError(OmegaError):
    """No credentials, or credentials (an API key) that are unknown or revoked."""


class PermissionDeniedError(OmegaError):
    """The credentials are valid but do not reach this bucket or resource."""


class PayloadTooLargeError(OmegaError):
    """A request body is larger than the server accepts."""


class InvalidNotebookError(OmegaError, ValueError):
    """A notebook is not valid nbformat JSON; nothing was stored."""


class UnknownKernelError(OmegaError, LookupError):
    """A notebook asks for a kernel that is not installed where it runs."""


class InvalidScheduleError(OmegaError, ValueError):
    """A schedule's text, cron, time zone or policy cannot be understood."""


class ScriptPackageError(OmegaError, ValueError):
    """A script package cannot be built, installed or lacks ``run(om, **kwargs)``."""


class IngestError(OmegaError, ValueError):
    """A CSV source cannot be read (unreachable URL, malformed rows, bad encoding, or a row
    that does not fit the dtypes inferred from the first chunk); nothing was stored."""


class StreamNotFoundError(ObjectNotFoundError):
    """No stream of that name exists in the bucket (or it was dropped while being read)."""


class InvalidMessageError(UnsupportedObjectError):
    """A stream message is not JSON-serializable (or holds what the database cannot store)."""


class InvalidOffsetError(OmegaError, ValueError):
    """A stream offset or limit is not a non-negative integer."""


def one_line(text: str) -> str:
    """Collapse a (possibly multi-line) message into a single line."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def describe_error(exc: BaseException, more: str = "") -> str:
    """The one line a user sees for ``exc`` on any surface (CLI, magics). Unexpected errors get
    their type name and ``more`` (how that surface shows the traceback)."""
    from sqlalchemy.exc import DBAPIError  # kept out of import time: this module stays light

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
    suffix = f" ({more})" if more else ""
    return f"{type(exc).__name__}: {one_line(str(exc))}{suffix}"


class BucketNotEmptyError(OmegaError):
    """A bucket to drop still holds objects; drop them first or force it."""


class ExperimentRunError(OmegaError, RuntimeError):
    """An experiment call needs an open run (``with om.runtime.experiment(name) as exp:``),
    or a run was started twice on one experiment object."""
