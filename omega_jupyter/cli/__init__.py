"""The ``om`` command line: a root app routing to one small typer sub-app per area.

Adding an area is one module and one line. Write ``omega_jupyter/cli/models.py`` with
``app = typer.Typer(help=..., no_args_is_help=True)`` and its commands, each taking
``ctx: typer.Context`` and starting with ``st = state(ctx)`` (``omega_jupyter.cli.context``):
``st.client()`` is the Omega client for the global options, ``st.json`` asks for JSON. Render
with ``omega_jupyter.cli.output`` (``table``, ``emit``, ``emit_json``, ``progress_bar``), and let
exceptions propagate: the root turns them into one ``error: ...`` line and exit code 1 (a
traceback with ``--debug``). Then register it here: one import, one line::

    from omega_jupyter.cli.models import app as models_app
    app.add_typer(models_app, name="models")

The global options (``--bucket``, ``--url``, ``--json``, ``--debug``, ``--progress``) are
accepted anywhere on the line (``om datasets ls --json`` as well as ``om --json datasets ls``);
sub-apps must not define options with these names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from omega_jupyter.cli import errors
from omega_jupyter.cli.buckets import app as bucket_app
from omega_jupyter.cli.context import CliState
from omega_jupyter.cli.datasets import app as datasets_app
from omega_jupyter.cli.db import app as db_app
from omega_jupyter.cli.experiments import app as experiments_app
from omega_jupyter.cli.jobs import app as jobs_app
from omega_jupyter.cli.jobs import runtime_job
from omega_jupyter.cli.models import app as models_app
from omega_jupyter.cli.runtime import app as runtime_app
from omega_jupyter.cli.runtime import cluster_app
from omega_jupyter.cli.scheduler import scheduler
from omega_jupyter.cli.scripts import app as scripts_app
from omega_jupyter.cli.scripts import runtime_script
from omega_jupyter.cli.serve import apikey_app, serve
from omega_jupyter.cli.streams import app as streams_app

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
    """The root group: global options anywhere on the line, exceptions as one line."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

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


# Sub-apps: one import above and one line here each.
app.add_typer(datasets_app, name="datasets")
app.add_typer(db_app, name="db")
app.add_typer(models_app, name="models")
app.add_typer(runtime_app, name="runtime")
app.add_typer(cluster_app, name="cluster")
app.add_typer(experiments_app, name="experiments")
app.add_typer(apikey_app, name="apikey")
app.add_typer(bucket_app, name="bucket")
app.command("serve")(serve)
app.add_typer(jobs_app, name="jobs")
app.add_typer(scripts_app, name="scripts")
app.add_typer(scripts_app, name="script", hidden=True)  # `om script put …` works too
app.add_typer(streams_app, name="streams")
app.command("scheduler")(scheduler)
runtime_app.command("job")(runtime_job)
runtime_app.command("script")(runtime_script)


def main() -> None:
    """Console script entry point (``om``)."""
    app()


__all__ = ["app", "main"]
