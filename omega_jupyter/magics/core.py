"""``%om`` / ``%%om``: one Magics class; a dict routes each subcommand to its own function."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Enum, Unicode

import omega_jupyter
from omega_jupyter.exceptions import describe_error
from omega_jupyter.magics import cmd
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.display import Table
from omega_jupyter.magics.parser import HelpShown, split_line

Command = Callable[[CommandContext, list[str]], Any]

COMMANDS: dict[str, Command] = {
    "put": cmd.put.put,
    "get": cmd.get.get,
    "ls": cmd.ls.ls,
    "info": cmd.info.info,
    "drop": cmd.drop.drop,
    "versions": cmd.versions.versions,
    "read_csv": cmd.read_csv.read_csv,
    "fit": cmd.fit.fit,
    "predict": cmd.predict.predict,
    "run": cmd.run.run,
    "schedule": cmd.schedule.schedule,
    "unschedule": cmd.unschedule.unschedule,
    "runs": cmd.runs.runs,
    "log": cmd.log.log,
    "save": cmd.save.save,
    "sql": cmd.sql.sql,
    "profile": cmd.profile.profile,
    "browse": cmd.browse.browse,
    "stream": cmd.stream.stream,
    "exp": cmd.exp.exp,
    "experiment": cmd.exp.exp,
    "app": cmd.app.app,
}
GLOBAL_OPTIONS = ("--bucket", "--url")
TRACEBACK_HINT = "%config OmegaMagics.short_errors = False shows the traceback"


@magics_class
class OmegaMagics(Magics):
    """``%om SUBCOMMAND …`` and ``%%om sql``: the store, runtime and jobs from a notebook."""

    short_errors = Bool(
        True, help="Show errors as one line (UsageError); False shows the traceback."
    ).tag(config=True)
    bucket = Unicode(
        None, allow_none=True, help="Bucket to use (default: the default client's)."
    ).tag(config=True)
    url = Unicode(
        None, allow_none=True, help="Database URL (default: OMEGA_DATABASE_URL or the settings)."
    ).tag(config=True)
    widgets = Enum(
        ("auto", "always", "never"),
        "auto",
        help="Progress bars and the browser as ipywidgets: auto (in a kernel), always, never.",
    ).tag(config=True)

    @line_cell_magic
    def om(self, line: str, cell: str | None = None) -> Any:
        """%om put df sales · %om get sales · %om ls · %%om sql — `%om help` lists commands."""
        words = split_line(line)
        options, words = _global_options(words)
        if not words or words[0] in ("help", "-h", "--help"):
            return _help()
        name, argv = words[0], words[1:]
        command = COMMANDS.get(name)
        if command is None:
            raise UsageError(f"unknown subcommand {name!r}; use one of: {', '.join(COMMANDS)}")
        if cell is not None and name != "sql":
            raise UsageError(f"%%om {name} takes no cell body; use %om {name} on one line")
        with self._errors():
            ctx = CommandContext(self.shell, self.client(**options), self, cell, _rest(line, name))
            try:
                return command(ctx, argv)
            except HelpShown:
                return None

    def client(self, bucket: str | None = None, url: str | None = None) -> Any:
        """The client for this call: ``--url``/``--bucket``, else the traits, else the
        process-wide default client."""
        url = url or self.url
        bucket = bucket or self.bucket
        if url:
            key = (url, bucket)
            cache = self.__dict__.setdefault("_clients", {})
            if key not in cache:
                cache[key] = omega_jupyter.setup(url=url, bucket=bucket)
            return cache[key]
        default = omega_jupyter.get_default()
        return default[bucket] if bucket and bucket != default.bucket else default

    @contextmanager
    def _errors(self) -> Any:
        try:
            yield
        except (UsageError, HelpShown, KeyboardInterrupt):
            raise
        except Exception as exc:
            if not self.short_errors:
                raise
            raise UsageError(describe_error(exc, TRACEBACK_HINT)) from None


def _global_options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``--bucket B``/``--url U`` (or ``--bucket=B``) before the subcommand."""
    options: dict[str, str] = {}
    while words and words[0].split("=", 1)[0] in GLOBAL_OPTIONS:
        head = words.pop(0)
        key, sep, value = head.partition("=")
        if not sep:
            if not words:
                raise UsageError(f"{key} needs a value, e.g. %om {key} VALUE ls")
            value = words.pop(0)
        options[key[2:]] = value
    return options, words


def _rest(line: str, name: str) -> str:
    """The raw text after the subcommand word (its first whitespace-delimited occurrence)."""
    match = re.search(rf"(?:^|\s){re.escape(name)}(?:\s|$)", line)
    return line[match.end() :] if match else ""


def _help() -> Any:
    rows = [{"command": f"%om {name}", "does": _summary(fn)} for name, fn in COMMANDS.items()]
    return Table(rows, ["command", "does"], title="%om subcommands (add -h for options)")


def _summary(fn: Command) -> str:
    return (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
