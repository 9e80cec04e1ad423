"""Jupyter server for the UI tests (started by Playwright's webServer).

Port, database and the freshly built extension come from scripts/ui-test.sh through the
environment: OMEGA_UI_PORT, OMEGA_HOME / OMEGA_DATABASE_URL, OMEGA_UI_LABEXTENSIONS.

The server's Authorizer refuses a few requests the way a deployment's access policy would, so
the panel meets real 403 answers from Jupyter's own ``@authorized`` check.
"""

import os
import re
from urllib.parse import unquote

from jupyter_server.auth.authorizer import AllowAllAuthorizer
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler
from jupyterlab.galata import configure_jupyter_server


class PolicyAuthorizer(AllowAllAuthorizer):
    """Allows everything except, on the omega API (resources ``omega_jupyter:*``):

    - writes (PUT/POST/PATCH/DELETE) to objects whose name starts with ``protected/``;
    - reads of listings whose name pattern asks for ``secret``.
    """

    PROTECTED = re.compile(r"/omega/api/v1/[^/]+/protected/")

    def is_authorized(self, handler, user, action: str, resource: str) -> bool:
        if not resource.startswith("omega_jupyter:"):
            return True
        path = unquote(handler.request.path)
        if action == "write" and self.PROTECTED.search(path):
            return False
        pattern = handler.get_query_argument("name", "") or ""
        return not (action == "read" and "secret" in pattern)


def _select_subprotocol(handler, subprotocols):
    """A kernel websocket that the browser closed during its handshake (a test ending while a
    notebook connects) has no connection left to choose a subprotocol: answer with the
    default instead of a 500 ('NoneType' object has no attribute 'kernel_ws_protocol',
    jupyter_server issue 1265)."""
    if handler.connection is None:
        return None
    return _own_select_subprotocol(handler, subprotocols)


_own_select_subprotocol = KernelWebsocketHandler.select_subprotocol
KernelWebsocketHandler.select_subprotocol = _select_subprotocol

c = get_config()  # noqa: F821 (provided by the config loader)
configure_jupyter_server(c)

c.ServerApp.port = int(os.environ.get("OMEGA_UI_PORT", "8888"))
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True  # the tests run as root in CI containers
c.ServerApp.jpserver_extensions = {"omega_jupyter": True}
c.ServerApp.authorizer_class = PolicyAuthorizer
# No keep-alive pings: a page the tests leave idle (or a browser closing) would log "WebSocket
# ping timeout" warnings; the test server lives minutes and every client is local.
c.ServerApp.tornado_settings = {"ws_ping_interval": 0}
if os.environ.get("OMEGA_UI_LABEXTENSIONS"):
    # The build of this tree wins over a copy installed earlier; galata's helper extension
    # (which configure_jupyter_server put here as a single path) stays.
    galata = c.LabServerApp.extra_labextensions_path
    c.LabServerApp.extra_labextensions_path = [
        os.environ["OMEGA_UI_LABEXTENSIONS"],
        *([galata] if isinstance(galata, str) else galata),
    ]
