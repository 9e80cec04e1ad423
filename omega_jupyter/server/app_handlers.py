"""REST routes of apps: list, status, start / stop / restart, logs (``apps/app_run.py``).

An app's status is ``{"name", "state", "serving", "run_id", "source", "host", "port", "pid",
"crashes", "started", "heartbeat", "error", "path"}`` (``docs/rest.md``). The app itself is
reached through the proxy at ``/apps/{name}/``, not under ``/api/v1``.
"""

from __future__ import annotations

from typing import Any

from omega_jupyter.apps.app_run import list_apps
from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.server import payloads, resources
from omega_jupyter.server.handlers import OmegaHandler

APP_ACTIONS = ("start", "stop", "restart")


class AppsHandler(OmegaHandler):
    """``GET /apps``: every app of the bucket that ever ran, with its status."""

    resource = "apps"

    async def get(self) -> None:
        limit, offset = self.paging()
        om = self.om
        self.reply(resources.page(await self.call(list_apps, om), limit, offset))


class AppHandler(OmegaHandler):
    """``GET /apps/{name}``: the app's status."""

    resource = "apps"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(lambda: om.runtime.app(name).status()))


def start_options(body: Any) -> dict[str, Any]:
    """``{"wait": bool, "timeout": seconds, "max_crashes": int}`` of a start or restart."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    unknown = set(body) - {"wait", "timeout", "max_crashes"}
    if unknown:
        raise BadRequestError(f"unknown option(s): {', '.join(sorted(unknown))}")
    wait = body.get("wait", False)
    if not isinstance(wait, bool):
        raise BadRequestError("wait must be true or false")
    timeout = body.get("timeout", 120)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise BadRequestError("timeout must be a number of seconds from 0 to 600")
    crashes = body.get("max_crashes")
    if crashes is not None and (
        isinstance(crashes, bool) or not isinstance(crashes, int) or not 1 <= crashes <= 100
    ):
        raise BadRequestError("max_crashes must be an integer from 1 to 100")
    return {"wait": wait, "timeout": float(timeout), "max_crashes": crashes}


class AppActionHandler(OmegaHandler):
    """``POST /apps/{name}/start|stop|restart``: the app's status afterwards (start and
    restart answer 202 unless ``{"wait": true}``: then 200 once it serves; stop answers 200
    once the process ended, waiting at most ``timeout`` seconds)."""

    resource = "apps"

    async def post(self, name: str, app_action: str) -> None:
        om = self.om
        body = payloads.parse_json(self.request.body) if self.request.body else None
        app = om.runtime.app(name)
        options = start_options(body)
        if app_action == "stop":  # waits for the process to end (timeout); the rest is start's
            self.reply(await self.call(app.stop, options["timeout"]))
            return

        def act() -> dict:
            if app_action == "restart":
                app.stop()
            return app.start(
                wait=options["wait"],
                timeout=options["timeout"],
                max_crashes=options["max_crashes"],
            )

        status = await self.call(act)
        self.reply(status, 200 if options["wait"] else 202)


class AppLogsHandler(OmegaHandler):
    """``GET /apps/{name}/logs?limit=``: the last lines of the app's latest run."""

    resource = "apps"

    async def get(self, name: str) -> None:
        om = self.om
        limit = payloads.int_param(self.arg("limit"), "limit", 200, minimum=1) or 200

        def logs() -> dict:
            app = om.runtime.app(name)
            status = app.status()
            return {"name": app.name, "run_id": status["run_id"], "lines": app.logs(limit)}

        self.reply(await self.call(logs))
