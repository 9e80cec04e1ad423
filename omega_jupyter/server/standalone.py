"""``om serve``: the REST handlers at ``/api/v1/…`` behind API keys, in a plain tornado server."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.netutil import bind_sockets

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import AuthenticationError
from omega_jupyter.runtime.reconcile import ReconcileLoop
from omega_jupyter.server.apikeys import ApiKey, ApiKeyService
from omega_jupyter.server.app_proxy import APP_PATTERN, SESSION_COOKIE, AppProxyHandler
from omega_jupyter.server.context import DEFAULT_MAX_BODY_BYTES, ServerContext
from omega_jupyter.server.handlers import OmegaHandler
from omega_jupyter.server.routes import MLFLOW_ROUTES, mount
from omega_jupyter.server.workers import cpu_count, run_workers
from omega_jupyter.storage import audit

API_PREFIX = "/api/v1"
APPS_PREFIX = "/apps"
SESSION_DAYS = 0.5  # how long a browser's app session lasts after its key was checked
# Signs the apps' session cookies; made once per `om serve` (before its workers fork, so that
# every worker honours every worker's cookie), or set to keep sessions across restarts.
SESSION_SECRET = os.environ.get("OMEGA_SESSION_SECRET") or secrets.token_hex(32)
MLFLOW_PREFIX = "/mlflow"  # MLFLOW_TRACKING_URI=http://host:port/mlflow
log = logging.getLogger("omega_jupyter.server")


class KeyHandler(tornado.web.RequestHandler):
    """Base of the standalone handlers: the caller is the API key in ``Authorization``."""

    api_key: ApiKey | None = None

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("X-Om-Worker", str(os.getpid()))  # which worker process answered

    def resolve_bucket(self) -> str | None:
        requested = self.request.headers.get("Bucket") or None
        if self.api_key is None:  # public routes
            return requested
        return self.api_key.bucket_for(requested)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("use 'Authorization: Bearer KEY'")
    return token.strip()


def require_key(method: Callable) -> Callable:
    """Authenticate the request by its API key before running ``method`` (401 if it fails)."""

    @functools.wraps(method)
    async def inner(self: Any, *args: Any, **kwargs: Any) -> Any:
        keys: ApiKeyService = self.ctx.apikeys
        token = bearer_token(self.request.headers.get("Authorization"))
        key = keys.cached(token)
        if key is None:  # first sight of this key: hash it off the event loop
            key = await self.call(keys.verify, token)
        key.check_role(self.writes(), self.request.method or "GET")  # its role
        self.api_key = key
        self.resolve_bucket()  # another bucket is a 403 before the body is even read
        audit.set_actor(f"key:{key.key_id}")
        return await method(self, *args, **kwargs)

    return inner


class KeyAppProxy(AppProxyHandler):
    """``/apps/{name}/…``: the app of the API key's bucket (its default one, or the ``Bucket``
    header's). The key comes as ``Authorization: Bearer KEY``, once as ``?api_key=KEY`` (a
    browser: answered with a redirect that drops it), or as the session cookie either sets
    after the key was checked (signed, HttpOnly, valid ``SESSION_DAYS``)."""

    api_key: ApiKey | None = None

    @property
    def ctx(self) -> ServerContext:
        return self.settings["omega"]

    async def authenticate(self) -> None:
        keys: ApiKeyService = self.ctx.apikeys
        token = bearer_token(self.request.headers.get("Authorization"))
        from_query = self.get_query_argument("api_key", None)
        if token is None and from_query:
            token = from_query
        if token is None:
            cookie = self.get_signed_cookie(SESSION_COOKIE, max_age_days=SESSION_DAYS)
            token = cookie.decode() if cookie else None
        key = keys.cached(token)
        if key is None:
            key = await asyncio.get_running_loop().run_in_executor(None, keys.verify, token)
        key.check_role(False, self.request.method or "GET")
        self.api_key = key
        audit.set_actor(f"key:{key.key_id}")
        if not self.get_cookie(SESSION_COOKIE) or from_query:
            self.set_signed_cookie(
                SESSION_COOKIE,
                token,
                expires_days=SESSION_DAYS,
                path=APPS_PREFIX + "/",
                httponly=True,
                samesite="Lax",
            )
        if from_query:  # the key leaves the address bar (and the app's logs) at once
            query = "&".join(
                part for part in self.request.query.split("&") if not part.startswith("api_key=")
            )
            raise _Redirect(self.request.path + (f"?{query}" if query else ""))

    def client(self) -> Any:
        assert self.api_key is not None
        return self.ctx.client_for(self.api_key.bucket_for(self.request.headers.get("Bucket")))

    def mount_prefix(self) -> str:
        return f"{APPS_PREFIX}/{self.name}"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, _Redirect):
            self.set_status(302)
            self.set_header("Location", exc.location)
            self.finish()
            return
        super().write_error(status_code, **kwargs)


class _Redirect(tornado.web.HTTPError):
    def __init__(self, location: str) -> None:
        super().__init__(302)
        self.location = location


class NotFound(OmegaHandler):
    """Paths outside ``/api/v1``."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, "no such route: %s", self.request.path)


class NoDelayHTTPServer(HTTPServer):
    """Sets TCP_NODELAY on every accepted connection (small responses go out at once)."""

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        try:
            stream.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        stream._omega_nodelay = True  # type: ignore[attr-defined]
        super().handle_stream(stream, address)


def make_app(
    client: Omega,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    key_cache_seconds: float = 30.0,
) -> tornado.web.Application:
    """The standalone tornado application for ``client``'s database."""
    ctx = ServerContext(
        client,
        max_body_bytes=max_body_bytes,
        apikeys=ApiKeyService(client.db, cache_seconds=key_cache_seconds),
    )
    handlers = mount(API_PREFIX, KeyHandler, require_key, guard_public=False)
    handlers.insert(0, (rf"{APPS_PREFIX}/{APP_PATTERN}$", KeyAppProxy, {}))
    handlers += mount(MLFLOW_PREFIX, KeyHandler, require_key, False, routes=MLFLOW_ROUTES)
    return tornado.web.Application(
        handlers,
        omega=ctx,
        cookie_secret=SESSION_SECRET,
        omega_api_prefix=API_PREFIX,
        default_handler_class=NotFound,
        compress_response=False,
    )


def default_workers(client: Omega) -> int:
    """One worker per core on PostgreSQL; one on SQLite (a database file takes one writer at
    a time, so more processes would only queue behind its lock)."""
    return 1 if client.db.dialect == "sqlite" else cpu_count()


def serve(
    client: Omega,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ready: Callable[[int, int], None] | None = None,
    log_line: Callable[[str], None] = log.warning,
) -> None:
    """Serve until SIGTERM/SIGINT. ``workers`` (default ``default_workers``) > 1 forks that
    many processes sharing the listening socket and nothing but the database; the parent
    restarts a worker that dies and stops them all when it is stopped."""
    n = default_workers(client) if workers is None else workers
    if n < 1:
        raise ValueError("workers must be at least 1")
    sockets = bind_sockets(port, address=host, reuse_port=False)
    bound = sockets[0].getsockname()[1]
    if n == 1:
        asyncio.run(_serve_one(client, sockets, max_body_bytes, lambda: ready and ready(bound, 1)))
        return
    # No pooled connection may cross the fork: each worker opens its own.
    client.db.dispose()
    if ready is not None:  # the socket listens already: connections wait in its backlog
        ready(bound, n)
    try:
        run_workers(
            n,
            lambda _slot: asyncio.run(_serve_one(client, sockets, max_body_bytes, None)),
            log=log_line,
        )
    finally:
        for sock in sockets:
            sock.close()


async def _serve_one(
    client: Omega, sockets: list, max_body_bytes: int, ready: Callable[[], object] | None
) -> None:
    """One server process: its own event loop, engine, model cache and reconcile loop."""
    app = make_app(client, max_body_bytes=max_body_bytes)
    # Body sizes are checked by the handlers (413); the server only caps what it buffers.
    server = NoDelayHTTPServer(app, max_body_size=max_body_bytes + 1024 * 1024, xheaders=True)
    server.add_sockets(sockets)
    # Runs that lose their worker are failed (or retried) while anyone serves them, also
    # when no scheduler loop runs; any number of such loops may run (one per process).
    ReconcileLoop(client).start()
    if ready is not None:
        ready()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    server.stop()  # stop accepting; the process exits with the requests it has in hand
