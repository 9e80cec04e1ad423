"""pytest-jupyter's fixtures for the tests of ``omega_jupyter.server`` (the Jupyter extension
tests use them; the route table, API key and ``om serve`` tests beside them need none).

Imported here rather than loaded with ``pytest_plugins`` so that its autouse fixtures and its
event loop stay confined to this directory.
"""

from __future__ import annotations

import pytest
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_core import pytest_pycollect_makeitem, pytest_pyfunc_call  # noqa: F401
from pytest_jupyter.jupyter_server import *  # noqa: F403
from traitlets.config import Config


def extension_config(**options: object) -> Config:
    """A Jupyter server with the omega extension enabled and these ``OmegaExtensionApp``
    options (override ``jp_server_config`` in a test module to use others)."""
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"omega_jupyter": True}},
            "OmegaExtensionApp": options,
        }
    )


@pytest.fixture
def jp_server_config(database_url: str, bucket: str) -> Config:
    """A Jupyter server with the extension enabled on the parametrized database."""
    return extension_config(
        database_url=database_url, bucket=bucket, max_body_mb=1, run_scheduler=False
    )
