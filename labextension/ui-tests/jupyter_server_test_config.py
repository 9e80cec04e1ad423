"""Jupyter server for the UI tests (started by Playwright's webServer).

Port, database and the freshly built extension come from scripts/ui-test.sh through the
environment: OMEGA_UI_PORT, OMEGA_HOME / OMEGA_DATABASE_URL, OMEGA_UI_LABEXTENSIONS.
"""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (provided by the config loader)
configure_jupyter_server(c)

c.ServerApp.port = int(os.environ.get("OMEGA_UI_PORT", "8888"))
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True  # the tests run as root in CI containers
c.ServerApp.jpserver_extensions = {"omega_jupyter": True}
if os.environ.get("OMEGA_UI_LABEXTENSIONS"):
    # The build of this tree wins over a copy installed earlier; galata's helper extension
    # (which configure_jupyter_server put here as a single path) stays.
    galata = c.LabServerApp.extra_labextensions_path
    c.LabServerApp.extra_labextensions_path = [
        os.environ["OMEGA_UI_LABEXTENSIONS"],
        *([galata] if isinstance(galata, str) else galata),
    ]
