"""A real IPython shell with ``%load_ext omega_jupyter``, for the magics and widget tests."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell


def make_shell(url: str, bucket: str) -> InteractiveShell:
    """The (process-wide) InteractiveShell, its magics pointed at ``url`` and ``bucket``."""
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext omega_jupyter")
    magics = shell.magics_manager.registry["OmegaMagics"]
    magics.url, magics.bucket, magics.short_errors = url, bucket, True
    magics.widgets = "never"
    for name in [n for n in shell.user_ns if not n.startswith("_") and n not in _BUILTINS]:
        del shell.user_ns[name]
    return shell


_BUILTINS = {"In", "Out", "exit", "quit", "get_ipython"}


def run(shell: InteractiveShell, cell: str) -> Any:
    """Run ``cell``; its value, or the error it raised."""
    result = shell.run_cell(cell)
    if result.error_before_exec is not None:
        raise result.error_before_exec
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return result.result


def usage_error(shell: InteractiveShell, cell: str) -> str:
    """The one-line UsageError message ``cell`` gives (fails if it gives none)."""
    result = shell.run_cell(cell)
    error = result.error_in_exec
    assert isinstance(error, UsageError), f"{cell!r} gave {error!r}"
    message = str(error)
    assert "\n" not in message and "Traceback" not in message
    return message
