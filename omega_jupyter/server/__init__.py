"""The REST API: one set of tornado handlers, mounted in Jupyter and in ``om serve``.

Importing this package is cheap; jupyter_server is only imported by the extension itself.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from omega_jupyter.server.extension import OmegaExtensionApp  # lazy: imports jupyter_server

    return [{"module": "omega_jupyter.server.extension", "app": OmegaExtensionApp}]
