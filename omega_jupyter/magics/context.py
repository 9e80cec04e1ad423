"""What a subcommand gets: the shell, the client, the cell body and the display settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:
    from omega_jupyter.client import Omega
    from omega_jupyter.magics.core import OmegaMagics


@dataclass
class CommandContext:
    """One invocation of ``%om``/``%%om``."""

    shell: Any
    om: Omega
    magics: OmegaMagics
    cell: str | None = None
    line: str = ""  # the raw text after the subcommand (quotes kept), for SQL on one line

    @property
    def widgets(self) -> bool:
        """Whether to draw ipywidgets (a kernel with a frontend) or plain text."""
        mode = self.magics.widgets
        if mode == "never":
            return False
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return False
        return mode == "always" or getattr(self.shell, "kernel", None) is not None

    def variable(self, name: str) -> Any:
        """A variable of the user's namespace; unknown names are a clear error."""
        namespace = self.shell.user_ns
        if name not in namespace:
            raise UsageError(
                f"no variable named {name!r} in this session: assign it first (e.g. {name} = …)"
            )
        return namespace[name]

    def progress(self, label: str, unit: str = "rows") -> Any:
        """A ``progress(done, total)`` callable drawing a bar (widget or text) for long work."""
        from omega_jupyter.widgets.progress import ProgressBar  # lazy: widgets import magics

        return ProgressBar(label, unit=unit, widget=self.widgets)

    def follow(self, handle: Any, wait: bool = True, timeout: float | None = None) -> Any:
        """Show a run's progress; wait for it (``wait``) or keep updating in the background."""
        from omega_jupyter.widgets.runs import RunProgress  # lazy: widgets import magics

        monitor = RunProgress(handle, widget=self.widgets)
        if wait:
            return monitor.follow(timeout=timeout)
        monitor.start_background()
        return monitor
