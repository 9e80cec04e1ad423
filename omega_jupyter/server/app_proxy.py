"""The apps' reverse proxy: ``/apps/{name}/…`` (``om serve``) and ``{base_url}omega/apps/{name}/…``
(Jupyter) forwarded to the app's process, HTTP and WebSockets.

Written here on tornado rather than taken from jupyter-server-proxy: that library serves a
fixed local port or command inside Jupyter only, while an app's address comes from its run
row (any worker's host, a new port after every restart), is looked up per bucket, and the
same handler must also serve ``om serve``, which is no Jupyter server. The proxy is small:
tornado's HTTP client and ``websocket_connect`` do the protocol work.

One mount's handler says who the caller is and which bucket (``authenticate``); the rest is
shared: find where the app of that bucket listens (``apps.app_run.serving_address``, cached
for a moment), strip the mount from the path and send it as ``X-Forwarded-Prefix`` (a Voilà
notebook is served under ``/apps/{name}/`` on its own port: its path keeps that prefix, and
its pages get the mount's prefix instead when the mount differs), and copy the answer back.
The platform's credentials (the API key header, the session cookie) never reach the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import tornado.web
import tornado.websocket
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from omega_jupyter.apps.app_run import AppRunner, base_url, serving_address
from omega_jupyter.exceptions import OmegaError
from omega_jupyter.names import validate_name
from omega_jupyter.server import payloads
from omega_jupyter.server.errors import classify, public_message

log = logging.getLogger("omega_jupyter.server")

ADDRESS_SECONDS = 2.0  # how long a looked-up app address is reused
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
SESSION_COOKIE = "omega_app_session"
PROXY_TIMEOUT = 300.0

_addresses: dict[tuple[str, str], tuple[float, dict | None]] = {}
_http: SimpleAsyncHTTPClient | None = None


def http_client() -> SimpleAsyncHTTPClient:
    global _http
    if _http is None:
        _http = SimpleAsyncHTTPClient(force_instance=True, max_clients=256)
    return _http


class AppNotServing(OmegaError):
    """The app exists in the bucket but does not serve (503)."""


def cached(om: Any, name: str) -> dict[str, Any] | None:
    """The address looked up for app ``name`` within ``ADDRESS_SECONDS`` (no database)."""
    hit = _addresses.get((om.bucket, name))
    if hit is not None and time.monotonic() - hit[0] < ADDRESS_SECONDS:
        return hit[1]
    return None


def lookup(om: Any, name: str) -> dict[str, Any]:
    """Where app ``name`` of ``om``'s bucket serves; ObjectNotFoundError (404) if the bucket
    has no such app, AppNotServing (503) if it is not running."""
    key = (om.bucket, name)
    address = cached(om, name)
    if address is not None:
        return address
    address = serving_address(om, name)
    _addresses[key] = (time.monotonic(), address)
    if address is None:
        AppRunner(om.runtime, name).source()  # ObjectNotFoundError if the bucket has no such app
        raise AppNotServing(f"app {name!r} is not running; start it first")
    return address


def forget(om: Any, name: str) -> None:
    _addresses.pop((om.bucket, name), None)


class AppProxyHandler(tornado.websocket.WebSocketHandler):
    """Shared proxy behaviour; a mount subclasses it with ``authenticate``, ``client`` and
    ``mount_prefix``."""

    upstream: Any = None
    name: str = ""

    # -- the mount's part -----------------------------------------------------------------
    async def authenticate(self) -> None:
        """Who the caller is (raise AuthenticationError / PermissionDeniedError)."""
        raise NotImplementedError

    def client(self) -> Any:
        """The client of the request's bucket."""
        raise NotImplementedError

    def mount_prefix(self) -> str:
        """The path of the app's mount, without a trailing slash."""
        raise NotImplementedError

    def upstream_headers(self) -> dict[str, str]:
        """The request's headers as the app gets them (the platform's credentials left out)."""
        headers = {}
        for key, value in self.request.headers.get_all():
            low = key.lower()
            if low in HOP_BY_HOP or low in ("host", "authorization", "cookie", "content-length"):
                continue
            headers[key] = value
        cookies = [
            f"{k}={m.value}" for k, m in self.request.cookies.items() if not self.platform_cookie(k)
        ]
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        return headers

    def platform_cookie(self, name: str) -> bool:
        return name == SESSION_COOKIE

    # -- shared ---------------------------------------------------------------------------
    def check_xsrf_cookie(self) -> None:
        """The app checks its own forms; the platform's XSRF token is not the app's."""

    def check_origin(self, origin: str) -> bool:
        return super().check_origin(origin)

    async def _target(self, name: str, rest: str | None) -> tuple[dict, str, str]:
        rest = rest or ""
        self.name = validate_name(name)
        await self.authenticate()
        om = self.client()
        address = cached(om, self.name)  # most requests: no thread hop, no database
        if address is None:
            address = await asyncio.get_running_loop().run_in_executor(None, lookup, om, self.name)
        prefix = self.mount_prefix()
        path = base_url(self.name) + rest if address.get("source") == "notebook" else "/" + rest
        if self.request.query:
            path += "?" + self.request.query
        return address, path, prefix

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        code = "error"
        if isinstance(exc, AppNotServing):
            status_code, code, message = 503, "app_not_running", str(exc)
        elif isinstance(exc, tornado.web.HTTPError):
            message = exc.log_message or exc.reason or message
        elif exc is not None:
            status_code, code = classify(exc)
            message = public_message(exc, status_code, code)
        self.set_status(status_code)
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="omega"')
        self.set_header("Content-Type", "application/json")
        self.finish(payloads.dumps({"error": code, "message": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, OmegaError | tornado.web.HTTPError):
            return
        super().log_exception(typ, value, tb)

    async def get(self, name: str, rest: str | None = None) -> None:
        if self.request.headers.get("Upgrade", "").lower() == "websocket":
            self._ws_target = await self._target(name, rest)
            await super().get(name, rest)
            return
        await self.proxy(name, rest)

    async def proxy(self, name: str, rest: str | None = None) -> None:
        if not rest and not self.request.path.endswith("/"):
            self.redirect(self.request.path + "/" + self._query_suffix(), permanent=False)
            return
        address, path, prefix = await self._target(name, rest)
        url = f"http://{address['host']}:{address['port']}{path}"
        headers = self.upstream_headers()
        headers["X-Forwarded-Prefix"] = prefix
        headers["X-Forwarded-Host"] = self.request.host
        headers["X-Forwarded-Proto"] = self.request.protocol
        method = self.request.method or "GET"
        body = self.request.body if method in ("POST", "PUT", "PATCH", "DELETE") else None
        if method in ("POST", "PUT", "PATCH") and body is None:
            body = b""
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            follow_redirects=False,
            decompress_response=False,
            request_timeout=PROXY_TIMEOUT,
            allow_nonstandard_methods=True,
        )
        try:
            response = await http_client().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as exc:
            forget(self.client(), self.name)
            raise tornado.web.HTTPError(502, f"app {self.name!r} did not answer: {exc}") from exc
        if response.code == 599:
            forget(self.client(), self.name)
            raise tornado.web.HTTPError(502, f"app {self.name!r} did not answer: {response.error}")
        self.set_status(response.code, response.reason)
        self._headers.clear()
        for key, value in response.headers.get_all():
            if key.lower() in HOP_BY_HOP or key.lower() == "content-length":
                continue
            self.add_header(key, value)
        data = response.body or b""
        own = base_url(self.name).rstrip("/")
        if (
            address.get("source") == "notebook"
            and prefix != own
            and "text/html" in response.headers.get("Content-Type", "")
            and not response.headers.get("Content-Encoding")
        ):
            data = data.replace(f"{own}/".encode(), f"{prefix}/".encode())
        if method != "HEAD" and response.code not in (204, 304):
            self.write(data)
        await self.finish()

    def _query_suffix(self) -> str:
        return ("?" + self.request.query) if self.request.query else ""

    post = put = patch = delete = options = proxy

    async def head(self, name: str, rest: str | None = None) -> None:
        await self.proxy(name, rest)

    # -- websockets -----------------------------------------------------------------------
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return subprotocols[0] if subprotocols else None

    async def open(self, name: str, rest: str | None = None) -> None:
        address, path, prefix = self._ws_target
        url = f"ws://{address['host']}:{address['port']}{path}"
        headers = self.upstream_headers()
        for key in list(headers):
            if key.lower().startswith("sec-websocket") or key.lower() == "origin":
                headers.pop(key)
        headers["X-Forwarded-Prefix"] = prefix
        offered = self.request.headers.get("Sec-WebSocket-Protocol")
        subprotocols = [p.strip() for p in offered.split(",")] if offered else None
        request = HTTPRequest(url, headers=headers, request_timeout=PROXY_TIMEOUT)
        try:
            self.upstream = await tornado.websocket.websocket_connect(
                request,
                on_message_callback=self._from_app,
                subprotocols=subprotocols,
                max_message_size=1024 * 1024 * 1024,
            )
        except Exception as exc:
            log.info("app %s: websocket to the app failed: %s", self.name, exc)
            self.close(1011, "the app did not accept the connection")

    def _from_app(self, message: str | bytes | None) -> None:
        if message is None:  # the app closed it
            if self.ws_connection is not None:
                self.close()
            return
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except tornado.websocket.WebSocketClosedError:
            pass

    async def on_message(self, message: str | bytes) -> None:
        if self.upstream is not None:
            try:
                await self.upstream.write_message(message, binary=isinstance(message, bytes))
            except tornado.websocket.WebSocketClosedError:
                self.close()

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    def on_ping(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.ping(data)


APP_PATTERN = r"(?P<name>[A-Za-z0-9_.\-]+)(?:/(?P<rest>.*))?"
