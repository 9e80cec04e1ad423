"""Script packages: stored as wheels, installed once per version on workers, run with run(om)."""

from omega_jupyter.scripts.store import ScriptStore

__all__ = ["ScriptStore"]
