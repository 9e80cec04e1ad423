"""``%om app [NAME [start|stop|restart|status|logs]] [--timeout S] [-n N]``."""

from __future__ import annotations

from typing import Any

from omega_jupyter.magics import display
from omega_jupyter.magics.context import CommandContext
from omega_jupyter.magics.parser import CommandParser

ACTIONS = ("start", "stop", "restart", "status", "logs")
COLUMNS = ["name", "state", "serving", "source", "host", "port", "path", "crashes", "error"]


def app(ctx: CommandContext, argv: list[str]) -> Any:
    """Serve a stored script package or notebook as an app; without NAME: the apps of the
    bucket."""
    from omega_jupyter.apps.app_run import list_apps

    parser = CommandParser("app", app.__doc__ or "")
    parser.add_argument("name", nargs="?", help="A stored script package or notebook.")
    parser.add_argument("action", nargs="?", default="status", choices=ACTIONS)
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds to wait (start).")
    parser.add_argument("-n", "--lines", type=int, default=50, help="logs: how many lines.")
    args = parser.parse(argv)
    if args.name is None:
        rows = list_apps(ctx.om)
        title = f"apps in bucket {ctx.om.bucket}"
        return display.Table(rows, COLUMNS, title=title, badges=["state"], empty="no apps")
    runner = ctx.om.runtime.app(args.name)
    if args.action == "logs":
        rows = [{"line": line} for line in runner.logs(args.lines)]
        return display.Table(rows, ["line"], title=f"log of app {args.name}", empty="no lines")
    if args.action == "start":
        info = runner.start(timeout=args.timeout)
    elif args.action == "stop":
        info = runner.stop()
    elif args.action == "restart":
        info = runner.restart(timeout=args.timeout)
    else:
        info = runner.status()
    return display.Table([info], COLUMNS, title=f"app {args.name}", badges=["state"])
