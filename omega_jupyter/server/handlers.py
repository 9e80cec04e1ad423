"""The REST handlers of datasets and of the service itself, and ``OmegaHandler``, the base of
every REST handler. ``routes.py`` lists them all and mounts each on the base class of its server
(Jupyter's ``APIHandler`` or the standalone API-key handler).

Every verb parses its input, calls one function of ``resources`` (or a store) in a worker
thread, and renders the result. Errors become ``{"error": CODE, "message": …}``.
"""

from __future__ import annotations

import contextvars
import functools
import io
import logging
import socket
from collections.abc import Callable
from typing import Any

import tornado.web
from tornado.ioloop import IOLoop

from omega_jupyter import __version__
from omega_jupyter.client import Omega
from omega_jupyter.datasets.profile import DEFAULT_BINS, DEFAULT_TOP
from omega_jupyter.exceptions import BadRequestError, OmegaError, PayloadTooLargeError
from omega_jupyter.server import payloads, resources
from omega_jupyter.server.context import ServerContext
from omega_jupyter.server.errors import (
    BUSY_RETRY_AFTER,
    HTTP_CODES,
    classify,
    message_of,
    public_message,
)

log = logging.getLogger("omega_jupyter.server")

# A body above the limit is still read (and dropped) up to this much more, so that the client,
# still sending, gets to read the 413; a larger one is answered at once and the connection
# closed.
DRAIN_BYTES = 64 * 1024 * 1024
VERBS = ("get", "post", "put", "delete", "patch")


@tornado.web.stream_request_body
class OmegaHandler(tornado.web.RequestHandler):
    """Shared behaviour of every handler: context, bucket, JSON in and out, errors.

    The server's base class (mounted after this one) says who the caller is and which bucket
    the request is for (``resolve_bucket``). Bodies are received here (``data_received``), so
    that one above the server's limit is answered with a JSON 413 (``receive_body``), not
    a closed connection.
    """

    resource = "*"  # the ``omega_jupyter:<resource>`` Jupyter authorizes against
    resolve_bucket: Callable[[], str | None]
    _body_parts: list[bytes]
    _body_size = 0

    @property
    def auth_resource(self) -> str:
        return f"omega_jupyter:{self.resource}"

    @property
    def ctx(self) -> ServerContext:
        return self.settings["omega"]

    @property
    def om(self) -> Omega:
        """The client of the request's bucket (the mount's base class decides which)."""
        return self.ctx.client_for(self.resolve_bucket())

    async def prepare(self) -> None:
        result = super().prepare()
        if result is not None:
            await result
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None and not getattr(stream, "_omega_nodelay", False):
            # Without TCP_NODELAY a small response can wait for the client's delayed ACK.
            try:
                stream.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass
            stream._omega_nodelay = True
        self._body_parts, self._body_size = [], 0
        limit = self.ctx.max_body_bytes
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit + DRAIN_BYTES:
            raise self._too_large(int(declared))
        set_max_body_size = getattr(self.request.connection, "set_max_body_size", None)
        if set_max_body_size is not None:
            set_max_body_size(limit + DRAIN_BYTES)

    def data_received(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._body_size <= self.ctx.max_body_bytes:
            self._body_parts.append(chunk)
        else:
            self._body_parts = []  # over the limit: read on, keep nothing

    def receive_body(self) -> None:
        """Make the received body ``request.body``; a body above the limit is a 413."""
        if self._body_size > self.ctx.max_body_bytes:
            raise self._too_large(self._body_size)
        self.request.body = b"".join(self._body_parts)
        self._body_parts = []

    def _too_large(self, size: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the request body has {size} bytes; this server accepts at most "
            f"{self.ctx.max_body_bytes}"
        )

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP verbs this handler serves (tornado's unimplemented defaults left out)."""
        return [
            verb.upper()
            for verb in VERBS
            if getattr(cls, verb, None) not in (None, getattr(tornado.web.RequestHandler, verb))
        ]

    # -- helpers --------------------------------------------------------------------------
    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking service call in the server's thread pool."""
        # in this request's context: the call sees who is acting (storage/audit.py)
        context = contextvars.copy_context()
        return await IOLoop.current().run_in_executor(
            self.ctx.executor, functools.partial(context.run, fn, *args, **kwargs)
        )

    def writes(self) -> bool:
        """Whether this request changes anything (a ``read`` API key may not): every verb but
        GET, HEAD and OPTIONS, unless the handler knows better."""
        return (self.request.method or "GET").upper() not in ("GET", "HEAD", "OPTIONS")

    def arg(self, name: str) -> str | None:
        return self.get_query_argument(name, None)

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(payloads.dumps(data))

    def paging(self) -> tuple[int | None, int]:
        limit = payloads.int_param(self.arg("limit"), "limit", None, minimum=0)
        offset = payloads.int_param(self.arg("offset"), "offset", 0) or 0
        return limit, offset

    def json_body(self) -> Any:
        return payloads.parse_json(self.request.body)

    # -- errors ---------------------------------------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        code = HTTP_CODES.get(status_code, "error")
        message = self._reason or "error"
        if isinstance(exc, tornado.web.HTTPError):
            message = (
                exc.log_message % exc.args
                if exc.log_message and exc.args
                else (exc.log_message or exc.reason or message)
            )
        elif exc is not None:
            status_code, code = classify(exc)
            message = public_message(exc, status_code, code)
            self.set_status(status_code)
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="omega"')
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        if code == "database_busy":
            self.set_header("Retry-After", str(BUSY_RETRY_AFTER))
        self.set_header("Content-Type", "application/json")
        self.finish(payloads.dumps({"error": code, "message": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if value is not None and not isinstance(value, tornado.web.HTTPError):
            status, code = classify(value)
            if status < 500:
                log.info("%s %s: %s %s", self.request.method, self.request.path, status, code)
                return
            if isinstance(value, OmegaError) or status == 503:  # the database or cluster is down
                reason = message_of(value)[:500]
                log.warning("%s %s: %s %s", self.request.method, self.request.path, status, reason)
                return
        super().log_exception(typ, value, tb)


def with_body(method: Callable) -> Callable:
    """``method`` (a handler verb) run once the request's body is received and within the
    size limit (``OmegaHandler.receive_body``)."""

    @functools.wraps(method)
    async def inner(self: OmegaHandler, *args: Any, **kwargs: Any) -> Any:
        self.receive_body()
        return await method(self, *args, **kwargs)

    return inner


# == service ==================================================================================
class PingHandler(OmegaHandler):
    resource = "status"

    async def get(self) -> None:
        self.reply({"ping": "ok", "version": __version__})


class HealthHandler(OmegaHandler):
    resource = "status"

    async def get(self) -> None:
        def check() -> dict:
            self.ctx.client.db.ensure_schema()
            with self.ctx.client.db.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return {"status": "ok", "database": self.ctx.client.db.dialect}

        self.reply(await self.call(check))


class OpenApiHandler(OmegaHandler):
    """The OpenAPI document; ``routes.mount`` hands it the function that builds it."""

    resource = "status"

    def initialize(self, document: Callable[[str], dict]) -> None:
        self.document = document

    async def get(self) -> None:
        self.reply(self.document(self.settings.get("omega_api_prefix", "/api/v1")))


class NotFoundHandler(OmegaHandler):
    """Any other path under the API prefix: a JSON 404."""

    async def get(self, path: str = "") -> None:
        raise tornado.web.HTTPError(404, "no such API route: %s", self.request.path)

    post = put = delete = patch = get


# == datasets =================================================================================
class DatasetsHandler(OmegaHandler):
    resource = "datasets"

    async def get(self) -> None:
        limit, offset = self.paging()
        om = self.om
        result = await self.call(resources.list_datasets, om, self.arg("name"), limit, offset)
        self.reply(result)


class DatasetMetadataHandler(OmegaHandler):
    resource = "datasets"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(resources.dataset_metadata, om, name))


class DatasetProfileHandler(OmegaHandler):
    resource = "datasets"

    async def get(self, name: str) -> None:
        bins = payloads.int_param(self.arg("bins"), "bins", DEFAULT_BINS, minimum=1)
        top = payloads.int_param(self.arg("top"), "top", DEFAULT_TOP, minimum=1)
        exact = payloads.bool_param(self.arg("exact"), "exact")
        om = self.om
        self.reply(await self.call(resources.dataset_profile, om, name, bins, top, exact))


class DatasetHandler(OmegaHandler):
    resource = "datasets"

    async def get(self, name: str) -> None:
        limit, offset = self.paging()
        fmt = payloads.choice_param(self.arg("format"), "format", payloads.FORMATS, "json")
        orient = payloads.choice_param(self.arg("orient"), "orient", payloads.ORIENTS, "records")
        columns = payloads.list_param(self.arg("columns"))
        filters = payloads.filter_args(self.request.query_arguments)
        om = self.om
        meta, obj = await self.call(
            resources.read_dataset,
            om,
            name,
            limit=limit,
            offset=offset,
            columns=columns,
            raw_filters=filters,
        )
        envelope = {"name": meta.name, "version": meta.version, "kind": meta.kind}
        if meta.kind not in payloads.FRAME_KINDS:
            if fmt != "json":
                raise BadRequestError(f"{meta.kind} is only available as format=json")
            self.reply({**envelope, "data": resources.plain(obj)})
            return
        frame = obj.to_frame() if hasattr(obj, "to_frame") else obj
        envelope.update(offset=offset, limit=limit, count=len(frame))
        keep_index = meta.kind_meta.get("index", {}).get("type") != "range"
        body, ctype = await self.call(
            payloads.render_frame, frame, fmt, orient, envelope, keep_index
        )
        self.set_header("Content-Type", ctype)
        self.finish(body)

    async def put(self, name: str) -> None:
        await self._write(name)

    async def post(self, name: str) -> None:
        await self._write(name)

    async def _write(self, name: str) -> None:
        append = payloads.bool_param(self.arg("append"), "append")
        ctype = self.request.headers.get("Content-Type", "")
        encoding = self.arg("encoding") or "utf-8"
        om = self.om

        def write() -> dict:
            if ctype.split(";")[0].strip().lower() in ("text/csv", "application/csv"):
                # The streamed CSV path: the same rules (encoding, headers) as read_csv.
                payloads.check_csv_body(self.request.body, encoding)
                body = io.BytesIO(self.request.body)
                meta = om.datasets.read_csv(body, name, append=append, encoding=encoding)
                return resources.summary(meta)
            frame = payloads.frame_from_body(self.request.body, ctype)
            meta = om.datasets.put(frame, name, append=append)
            return resources.summary(meta)

        self.reply(await self.call(write), status=201 if not append else 200)

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.datasets.drop, name)
        self.reply({"name": name, "deleted": True})
