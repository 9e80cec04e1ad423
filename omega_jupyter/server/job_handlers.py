"""REST routes of jobs (notebooks), their schedules, runs, scripts and logs.

Running a notebook or script always answers 202 with ``Location: …/runs/{id}``: the work runs
on the cluster and the run resource tells its state, progress and error.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from omega_jupyter.exceptions import BadRequestError, ObjectNotFoundError
from omega_jupyter.server import openapi, payloads, resources
from omega_jupyter.server.handlers import OmegaMixin
from omega_jupyter.server.routes import NAME, register

RUN_ID = r"(?P<run_id>[^/]+)"


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready records (timestamps as ISO text, missing values as null)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _object(body: Any, what: str) -> dict:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequestError(f"{what} must be a JSON object")
    return body


class _Lists(OmegaMixin):
    """``GET /{store}``: names matching ``?name=``, paginated."""

    store = ""

    async def get(self) -> None:
        limit, offset = self.paging()
        om = self.om
        pattern = self.arg("name")

        def listing() -> dict:
            store = getattr(om, self.store)
            metas = store.list(pattern, raw=True)
            answer = resources.page([resources.summary(m) for m in metas], limit, offset)
            if answer["items"]:  # each item's schedule, so a list can show it (null: none)
                briefs = store.schedule_briefs()
                for item in answer["items"]:
                    item["schedule"] = briefs.get(item["name"])
            return answer

        self.reply(await self.call(listing))


class JobsHandler(_Lists):
    resource = store = "jobs"


class ScriptsHandler(_Lists):
    resource = store = "scripts"


def script_metadata(om: Any, name: str) -> dict[str, Any]:
    """A script package's metadata (wheel, modules) and its kept versions."""
    meta = om.scripts.metadata(name)
    data = meta.to_dict()
    data.pop("location", None)  # internal blob location: never shown to clients
    data["versions"] = om.scripts.versions(meta.name)["version"].tolist()
    return data


class ScriptHandler(OmegaMixin):
    resource = "scripts"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(script_metadata, om, name))

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.scripts.drop, name)
        self.reply({"name": name, "deleted": True})


class JobHandler(OmegaMixin):
    resource = "jobs"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(om.jobs.get, name))

    async def put(self, name: str) -> None:
        om = self.om
        notebook = self.json_body()
        meta = await self.call(om.jobs.put, notebook, name)
        self.reply(resources.summary(meta), 201)

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.jobs.drop, name)
        self.reply({"name": name, "deleted": True})


class _Runner(OmegaMixin):
    def accepted(self, run_id: str) -> None:
        location = f"{self.settings.get('omega_api_prefix', '/api/v1')}/runs/{run_id}"
        self.set_header("Location", location)  # type: ignore[attr-defined]
        self.reply({"run": run_id, "location": location}, 202)

    def body_object(self, what: str) -> dict:
        return _object(self.json_body() if self.request.body else None, what)


class JobRunHandler(_Runner):
    resource = "jobs"

    async def post(self, name: str) -> None:
        body = self.body_object("the body")
        stream = body.pop("result_stream", None)  # publish the run's events to this stream
        retries = body.pop("max_retries", None)  # tries again should the run lose its worker
        parameters = _object(body.get("parameters", body), "parameters")
        om = self.om
        handle = await self.call(
            lambda: om.runtime.job(name).run(
                parameters=parameters, result_stream=stream, max_retries=retries
            )
        )
        self.accepted(handle.id)


class ScriptRunHandler(_Runner):
    resource = "scripts"

    async def post(self, name: str) -> None:
        kwargs = self.body_object("the body (keyword arguments of run)")
        stream = kwargs.pop("result_stream", None)  # publish the run's events to this stream
        retries = kwargs.pop("max_retries", None)  # tries again should the run lose its worker
        om = self.om
        handle = await self.call(
            lambda: om.runtime.script(name).run(result_stream=stream, max_retries=retries, **kwargs)
        )
        self.accepted(handle.id)


class ScheduleHandler(OmegaMixin):
    resource = "jobs"

    async def get(self, name: str) -> None:
        om = self.om

        def schedule() -> dict:
            om.jobs.metadata(name)
            return om.jobs.schedules_store.get(om.jobs.kind, name)

        self.reply(await self.call(schedule))

    async def put(self, name: str) -> None:
        body = _object(self.json_body(), "the schedule")
        allowed = {"when", "parameters", "missed", "max_retries", "timezone", "paused"}
        unknown = set(body) - allowed
        if unknown or "when" not in body:
            raise BadRequestError(f"send {{'when': …}} plus any of {sorted(allowed - {'when'})}")
        om = self.om
        self.reply(await self.call(om.jobs.schedule, name, **body), 200)

    async def patch(self, name: str) -> None:
        """Pause or resume: ``{"paused": true|false}`` (change anything else with PUT)."""
        body = self.json_body()
        if not isinstance(body, dict) or set(body) != {"paused"}:
            raise BadRequestError(
                "send {'paused': true|false}: 'paused' is the only key allowed here "
                "(change the rest of the schedule with PUT)"
            )
        paused = body["paused"]
        if not isinstance(paused, bool):
            raise BadRequestError(f"paused must be true or false, not {json.dumps(paused)[:50]}")
        om = self.om
        self.reply(await self.call(om.jobs.pause if paused else om.jobs.resume, name))

    async def delete(self, name: str) -> None:
        om = self.om
        if not await self.call(om.jobs.unschedule, name):
            raise ObjectNotFoundError(f"job {name!r} has no schedule")
        self.reply({"name": name, "unscheduled": True})


class RunsHandler(OmegaMixin):
    resource = "runs"

    async def get(self) -> None:
        limit = payloads.int_param(self.arg("limit"), "limit", 100, minimum=1)
        offset = payloads.int_param(self.arg("offset"), "offset", 0, minimum=0) or 0
        state, target = self.arg("state"), self.arg("job") or self.arg("target")
        om = self.om

        def listing() -> dict:
            frame = om.runtime.runs(state=state, target=target, limit=limit, offset=offset)
            total = om.runtime.runs_store.count(state=state, target=target)
            return {"items": records(frame), "total": total, "limit": limit, "offset": offset}

        self.reply(await self.call(listing))


class RunHandler(OmegaMixin):
    resource = "runs"

    async def get(self, run_id: str) -> None:
        om = self.om
        self.reply(await self.call(lambda: om.runtime.runs_store.get(run_id).to_dict()))


class RunNotebookHandler(OmegaMixin):
    resource = "runs"

    async def get(self, run_id: str) -> None:
        om = self.om

        def notebook() -> Any:
            om.runtime.runs_store.get(run_id)  # unknown run: 404
            return om.jobs.result(run_id)

        self.reply(await self.call(notebook))


class RunCancelHandler(OmegaMixin):
    resource = "runs"

    async def post(self, run_id: str) -> None:
        om = self.om
        cancelled = await self.call(lambda: om.runtime.run(run_id).cancel())
        self.reply({"run": run_id, "cancelled": bool(cancelled)})


class LogsHandler(OmegaMixin):
    resource = "logs"

    async def get(self) -> None:
        limit = payloads.int_param(self.arg("limit"), "limit", 1000, minimum=1)
        level, run, since = self.arg("level"), self.arg("run"), self.arg("since")
        om = self.om

        def lines() -> dict:
            frame = om.logger.dataframe(level=level, run=run, since=since, limit=limit)
            return {"items": records(frame), "total": len(frame), "limit": limit}

        self.reply(await self.call(lines))


register(r"jobs/?", JobsHandler)
register(rf"jobs/{NAME}/run", JobRunHandler)
register(rf"jobs/{NAME}/schedule", ScheduleHandler)
register(rf"jobs/{NAME}", JobHandler)
register(r"scripts/?", ScriptsHandler)
register(rf"scripts/{NAME}/run", ScriptRunHandler)
register(rf"scripts/{NAME}", ScriptHandler)  # after scripts/{NAME}/run: NAME may hold a '/'
register(r"runs/?", RunsHandler)
register(rf"runs/{RUN_ID}/notebook", RunNotebookHandler)
register(rf"runs/{RUN_ID}/cancel", RunCancelHandler)
register(rf"runs/{RUN_ID}", RunHandler)
register(r"logs/?", LogsHandler)

_N = [openapi.NAME_PARAM]
_RUN = [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_OBJ = {"content": {"application/json": {"schema": {"type": "object"}}}}
_LIST = [openapi.PATTERN, *openapi.PAGING]
_S = {"type": "string"}
_RUNS_Q = [
    {"name": "job", "in": "query", "schema": _S},
    {"name": "state", "in": "query", "schema": _S},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]
_PAUSE = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["paused"],
                "properties": {"paused": {"type": "boolean"}},
                "additionalProperties": False,
            }
        }
    }
}
_LOGS_Q = [
    {"name": "run", "in": "query", "schema": _S},
    {"name": "level", "in": "query", "schema": _S},
    {"name": "since", "in": "query", "schema": _S},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]
op = openapi.op
openapi.add_paths(
    {
        "/jobs": {"get": op("List notebooks", _LIST)},
        "/jobs/{name}": {
            "get": op("The notebook (nbformat JSON)", _N),
            "put": op("Store a notebook (nbformat JSON)", _N, _OBJ, ok=201),
            "delete": op("Drop a notebook", _N),
        },
        "/jobs/{name}/run": {
            "post": op(
                "Run with {parameters, result_stream, max_retries}: 202 + Location", _N, _OBJ, 202
            )
        },
        "/jobs/{name}/schedule": {
            "get": op("The schedule: next times, paused", _N),
            "put": op(
                "Set {when, parameters, missed, max_retries, timezone, paused}; "
                "without paused a changed schedule stays paused or active",
                _N,
                _OBJ,
            ),
            "patch": op(
                "Pause or resume with {paused}; a resumed schedule runs from the next slot "
                "after now (slots during the pause are not run)",
                _N,
                _PAUSE,
            ),
            "delete": op("Remove the schedule", _N),
        },
        "/scripts": {"get": op("List script packages", _LIST)},
        "/scripts/{name}": {
            "get": op("Metadata and versions of a script package", _N),
            "delete": op("Drop a script package (all versions) and its schedule", _N),
        },
        "/scripts/{name}/run": {
            "post": op(
                "Run with keyword arguments (and result_stream, max_retries): 202", _N, _OBJ, 202
            )
        },
        "/runs": {"get": op("Runs, newest first: {items, total, limit, offset}", _RUNS_Q)},
        "/runs/{run_id}": {"get": op("State, progress, error", _RUN)},
        "/runs/{run_id}/notebook": {"get": op("The executed notebook", _RUN)},
        "/runs/{run_id}/cancel": {"post": op("Cancel a run", _RUN)},
        "/logs": {"get": op("Log lines, oldest first", _LOGS_Q)},
    }
)
