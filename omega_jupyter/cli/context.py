"""What every command knows: the global options, and the client they describe."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

import omega_jupyter
from omega_jupyter.settings import Settings

if TYPE_CHECKING:
    from omega_jupyter.client import Omega
    from omega_jupyter.storage.engine import Database


@dataclass
class CliState:
    """The global options (``--bucket``, ``--url``, ``--json``, ``--debug``, ``--progress``)."""

    bucket: str | None = None
    url: str | None = None
    json: bool = False
    debug: bool = False
    progress: bool | None = None  # None: show bars only when stderr is a terminal

    def client(self) -> Omega:
        """The client for these options; settings otherwise come from env and config file."""
        return omega_jupyter.setup(url=self.url, bucket=self.bucket)

    def settings(self) -> Settings:
        return Settings.resolve(database_url=self.url, bucket=self.bucket)

    def database(self) -> Database:
        """The configured database, without a client (``om db``, ``om bucket``)."""
        from omega_jupyter.storage.engine import get_database  # SQLAlchemy: commands only

        return get_database(self.settings().resolved_database_url)

    @property
    def show_progress(self) -> bool:
        if self.progress is not None:
            return self.progress
        return sys.stderr.isatty()


def state(ctx: typer.Context) -> CliState:
    """The :class:`CliState` of the running command (set by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
