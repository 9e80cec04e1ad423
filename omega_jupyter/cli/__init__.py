"""The ``om`` command line: a root app routing to one small typer sub-app per area.

Adding an area is one module and one line. Write ``omega_jupyter/cli/models.py`` with
``app = typer.Typer(no_args_is_help=True)`` and its commands, each taking ``ctx: typer.Context``
and starting with ``st = state(ctx)`` (``omega_jupyter.cli.context``): ``st.client()`` is the
Omega client for the global options, ``st.json`` asks for JSON. Render with
``omega_jupyter.cli.output`` (``table``, ``emit``, ``emit_json``, ``progress_bar``), and let
exceptions propagate: the root turns them into one ``error: ...`` line and exit code 1 (a
traceback with ``--debug``). Then register it in ``COMMANDS`` below, one line: its module,
the attribute (a Typer app or a command function) and the one-line help ``om --help`` shows.

Areas are imported when their command runs, not before: ``om --help`` reads ``COMMANDS`` and
imports none of them, and an area's module imports pandas, SQLAlchemy or the client inside the
commands that need them (``tests/cli/test_cli_imports.py`` holds the import set to that).

The global options (``--bucket``, ``--url``, ``--json``, ``--debug``, ``--progress``) are
accepted anywhere on the line (``om datasets ls --json`` as well as ``om --json datasets ls``);
sub-apps must not define options with these names.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from omega_jupyter.cli import errors
from omega_jupyter.cli.context import CliState

# name: (module, attribute, help in `om --help`, hidden). An attribute is a Typer app (a group
# of commands) or a command function.
COMMANDS: dict[str, tuple[str, str, str, bool]] = {
    "datasets": (
        "omega_jupyter.cli.datasets",
        "app",
        "Datasets: DataFrames, arrays, Python data and files.",
        False,
    ),
    "db": (
        "omega_jupyter.cli.db",
        "app",
        "The database: schema status, upgrades and garbage collection.",
        False,
    ),
    "models": (
        "omega_jupyter.cli.models",
        "app",
        "Models: versioned, tagged scikit-learn estimators.",
        False,
    ),
    "runtime": (
        "omega_jupyter.cli.runtime",
        "app",
        "Run models (and jobs, scripts) on the Dask cluster.",
        False,
    ),
    "cluster": (
        "omega_jupyter.cli.runtime",
        "cluster_app",
        "A local Dask cluster in the background.",
        False,
    ),
    "experiments": (
        "omega_jupyter.cli.experiments",
        "app",
        "Experiments: runs, params, metrics.",
        False,
    ),
    "apikey": (
        "omega_jupyter.cli.serve",
        "apikey_app",
        "API keys of the standalone REST server.",
        False,
    ),
    "bucket": ("omega_jupyter.cli.buckets", "app", "Buckets: create, list, drop.", False),
    "serve": (
        "omega_jupyter.cli.serve",
        "serve",
        "Serve the REST API at /api/v1 with API keys (create one with `om apikey create`).",
        False,
    ),
    "jobs": (
        "omega_jupyter.cli.jobs",
        "app",
        "Notebooks: store, run, schedule; runs and results.",
        False,
    ),
    "scripts": (
        "omega_jupyter.cli.scripts",
        "app",
        "Script packages: run(om, **kwargs) on the cluster.",
        False,
    ),
    # `om script put …` works too
    "script": (
        "omega_jupyter.cli.scripts",
        "app",
        "Script packages: run(om, **kwargs) on the cluster.",
        True,
    ),
    "streams": (
        "omega_jupyter.cli.streams",
        "app",
        "Message streams: append, list, tail and follow.",
        False,
    ),
    "scheduler": (
        "omega_jupyter.cli.scheduler",
        "scheduler",
        "Run scheduled notebooks and scripts. Any number may run against one database.",
        False,
    ),
}


def load_command(name: str) -> Any:
    """The click command of ``COMMANDS[name]``, its module imported now."""
    module, attribute, help_, hidden = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    command.help = command.help or help_
    command.hidden = hidden
    return command


try:  # typer vendors click from 0.2x on; its exceptions derive from TyperException
    from typer import TyperException as CommandLineError
except ImportError:  # pragma: no cover - older typer on plain click
    from click import ClickException as CommandLineError  # type: ignore[assignment]

# Global options that take a value, and flags; hoisted to the root wherever they appear.
GLOBAL_VALUE_OPTIONS = ("--bucket", "--url")
GLOBAL_FLAGS = ("--json", "--debug", "--progress", "--no-progress")


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options (and their values) to the front so the root parses them."""
    front: list[str] = []
    rest: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            rest.extend(items[i:])
            break
        if arg in GLOBAL_FLAGS or ("=" in arg and arg.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS):
            front.append(arg)
        elif arg in GLOBAL_VALUE_OPTIONS and i + 1 < len(items):
            front.extend(items[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


class OmegaGroup(TyperGroup):
    """The root group: global options anywhere on the line, exceptions as one line, areas
    imported when their command runs (``COMMANDS``)."""

    _listing = False  # True while the root's help is drawn: commands are shown, not loaded

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name in self.commands or name not in COMMANDS:
            return super().get_command(ctx, name)
        if self._listing:  # the root's help: the line of COMMANDS, nothing imported
            _, _, help_, hidden = COMMANDS[name]
            return TyperCommand(name, help=help_, hidden=hidden)
        command = load_command(name)
        self.add_command(command, name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (CommandLineError, typer.Exit, typer.Abort):
            raise  # usage errors (exit 2) and explicit exits keep typer's handling
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            errors.report(exc)
            raise typer.Exit(errors.EXIT_ERROR) from None


app = typer.Typer(
    cls=OmegaGroup,
    name="om",
    help="omega_jupyter: datasets, models, notebooks and scripts in one database.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold database URLs with passwords
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    ctx: typer.Context,
    bucket: Annotated[
        str | None, typer.Option("--bucket", help="Bucket (namespace) to work in.")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Database URL; overrides OMEGA_DATABASE_URL."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = (
        False
    ),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bars on stderr (default: when stderr is a terminal).",
        ),
    ] = None,
) -> None:
    """Global options, accepted before or after the command."""
    ctx.obj = CliState(bucket=bucket, url=url, json=json_, debug=debug, progress=progress)


def main() -> None:
    """Console script entry point (``om``)."""
    app()


__all__ = ["COMMANDS", "app", "load_command", "main"]
