"""IPython magics: ``%om`` (line) and ``%%om`` (cell), loaded with ``%load_ext omega_jupyter``.

To load them in every IPython kernel a Jupyter server starts, switch on the server
extension's option (``jupyter_server_config.py``, or ``--OmegaExtensionApp.load_magics=True``)::

    c.OmegaExtensionApp.load_magics = True

The server then starts IPython kernels with ``--ext=omega_jupyter`` (other kernels unchanged).
Kernels started elsewhere (``jupyter console``, nbclient, papermill) load them with this line in
``ipython_kernel_config.py`` (or ``ipython_config.py``) of the IPython profile::

    c.InteractiveShellApp.extensions = ["omega_jupyter"]
"""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.core import COMMANDS, OmegaMagics
from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.storage.metadata import Metadata

__all__ = ["COMMANDS", "OmegaMagics", "register"]


def register(shell: Any) -> OmegaMagics:
    """Register the magics and the rich display of run handles and metadata on ``shell``."""
    magics = OmegaMagics(shell=shell)
    shell.register_magics(magics)
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(Metadata, display.metadata_html)
    formatters["text/plain"].for_type(Metadata, _plain(display.metadata_text))
    formatters["text/html"].for_type(RunHandle, display.run_html)
    formatters["text/plain"].for_type(RunHandle, _plain(display.run_text))
    return magics


def _plain(render: Any) -> Any:
    def printer(obj: Any, p: Any, cycle: bool) -> None:
        p.text(render(obj))

    return printer
