"""REST routes of jobs (notebooks), their schedules, runs, scripts and logs.

Running a notebook or script always answers 202 with ``Location: …/runs/{id}``: the work runs
on the cluster and the run resource tells its state, progress and error.
"""

from __future__ import annotations

import json
from typing import Any

from omega_jupyter.exceptions import BadRequestError, ObjectNotFoundError
from omega_jupyter.records import json_records
from omega_jupyter.server import payloads, resources
from omega_jupyter.server.handlers import OmegaHandler


def _object(body: Any, what: str) -> dict:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequestError(f"{what} must be a JSON object")
    return body


class NamedObjectsHandler(OmegaHandler):
    """``GET /jobs`` or ``GET /scripts`` (``store`` says which): names matching ``?name=``,
    paginated, each with its schedule."""

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


class JobsHandler(NamedObjectsHandler):
    resource = store = "jobs"


class ScriptsHandler(NamedObjectsHandler):
    resource = store = "scripts"


def script_metadata(om: Any, name: str) -> dict[str, Any]:
    """A script package's metadata (wheel, modules) and its kept versions."""
    meta = om.scripts.metadata(name)
    data = meta.to_dict()
    data.pop("location", None)  # internal blob location: never shown to clients
    data["versions"] = om.scripts.versions(meta.name)["version"].tolist()
    return data


class ScriptHandler(OmegaHandler):
    resource = "scripts"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(script_metadata, om, name))

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.scripts.drop, name)
        self.reply({"name": name, "deleted": True})


class JobHandler(OmegaHandler):
    resource = "jobs"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(om.jobs.get, name))

    async def put(self, name: str) -> None:
        om = self.om
        notebook = self.json_body()
        meta, created = await self.call(om.jobs.save, notebook, name)
        # An unchanged notebook makes no new version: 200 with the version it still is.
        self.reply({**resources.summary(meta), "created": created}, 201 if created else 200)

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.jobs.drop, name)
        self.reply({"name": name, "deleted": True})


class JobVersionsHandler(OmegaHandler):
    """``GET /jobs/{name}/versions``: every kept version, newest first (the panel's history)."""

    resource = "jobs"

    async def get(self, name: str) -> None:
        om = self.om
        items = await self.call(om.jobs.history, name)
        self.reply({"name": name, "items": items, "total": len(items)})


class JobRestoreHandler(OmegaHandler):
    """``POST /jobs/{name}/restore`` with ``{"version": N}``: version N stored again as the
    newest version (201 with its summary)."""

    resource = "jobs"

    async def post(self, name: str) -> None:
        body = _object(self.json_body() if self.request.body else None, "the body")
        version = body.get("version")
        if set(body) != {"version"} or isinstance(version, bool) or not isinstance(version, int):
            raise BadRequestError("send {'version': N}: the version to restore, an integer")
        om = self.om
        meta = await self.call(om.jobs.restore, name, version)
        self.reply({**resources.summary(meta), "restored_from": version, "created": True}, 201)


class RunStartHandler(OmegaHandler):
    """Base of the handlers that start a run: they answer 202 with the run's location."""

    def accepted(self, run_id: str) -> None:
        location = f"{self.settings.get('omega_api_prefix', '/api/v1')}/runs/{run_id}"
        self.set_header("Location", location)
        self.reply({"run": run_id, "location": location}, 202)

    def body_object(self, what: str) -> dict:
        return _object(self.json_body() if self.request.body else None, what)


class JobRunHandler(RunStartHandler):
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


MAP_OPTIONS = {"members", "param", "max_parallel", "timeout", "result_stream", "max_retries"}


class JobMapHandler(RunStartHandler):
    """``POST /jobs/{name}/map`` with ``{members, param, max_parallel, timeout, result_stream,
    max_retries}``: a run group, 202 with ``Location: …/groups/{id}``."""

    resource = "jobs"

    async def post(self, name: str) -> None:
        body = self.body_object("the body")
        unknown = sorted(set(body) - MAP_OPTIONS)
        if unknown:
            raise BadRequestError(
                f"unknown field(s) {unknown}; a map takes {', '.join(sorted(MAP_OPTIONS))}"
            )
        if "members" not in body:
            raise BadRequestError("a map needs members: a list of parameter objects")
        members = body.pop("members")
        om = self.om
        group = await self.call(lambda: om.runtime.job(name).map(members, **body))
        location = f"{self.settings.get('omega_api_prefix', '/api/v1')}/groups/{group.id}"
        self.set_header("Location", location)
        self.reply({"group": group.id, "members": group.size, "location": location}, 202)


def group_state(group: Any) -> dict[str, Any]:
    """A run group as REST shows it: what it runs, its counts and one record per member."""
    status = group.status()
    return {
        "id": group.id,
        "kind": group.kind,
        "target": group.target,
        **status.to_dict(),
        "members": json_records(status.members),
    }


class GroupsHandler(OmegaHandler):
    resource = "runs"

    async def get(self) -> None:
        limit = payloads.int_param(self.arg("limit"), "limit", 100, minimum=1)
        om = self.om
        self.reply(await self.call(lambda: json_records(om.runtime.groups(limit))))


class GroupHandler(OmegaHandler):
    resource = "runs"

    async def get(self, group_id: str) -> None:
        om = self.om
        self.reply(await self.call(lambda: group_state(om.runtime.group(group_id))))


class GroupCancelHandler(OmegaHandler):
    resource = "runs"

    async def post(self, group_id: str) -> None:
        om = self.om
        cancelled = await self.call(lambda: om.runtime.group(group_id).cancel())
        self.reply({"group": group_id, "cancelled": cancelled})


class GroupRestartHandler(OmegaHandler):
    resource = "runs"

    async def post(self, group_id: str) -> None:
        body = _object(self.json_body() if self.request.body else None, "the body")
        failed_only = body.pop("failed_only", True)
        if body or not isinstance(failed_only, bool):
            raise BadRequestError("restart takes {failed_only: true|false} only")
        om = self.om
        again = await self.call(lambda: om.runtime.group(group_id).restart(failed_only))
        self.reply({"group": group_id, "pending": again})


class ScriptRunHandler(RunStartHandler):
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


class ScheduleHandler(OmegaHandler):
    resource = "jobs"

    async def get(self, name: str) -> None:
        om = self.om

        def schedule() -> dict:
            om.jobs.metadata(name)
            return om.jobs.schedule_info(name)

        self.reply(await self.call(schedule))

    async def put(self, name: str) -> None:
        body = _object(self.json_body(), "the schedule")
        allowed = {
            "when",
            "parameters",
            "missed",
            "max_retries",
            "timezone",
            "paused",
            "map",
            "max_parallel",
        }
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


class RunsHandler(OmegaHandler):
    resource = "runs"

    async def get(self) -> None:
        limit = payloads.int_param(self.arg("limit"), "limit", 100, minimum=1)
        offset = payloads.int_param(self.arg("offset"), "offset", 0, minimum=0) or 0
        state = payloads.list_param(self.arg("state"))  # one state or several, comma-separated
        target = self.arg("job") or self.arg("target")
        kind = self.arg("kind")
        search = self.arg("search") or None  # a substring of the target (the panel's search)
        if search is not None and len(search) > 255:
            raise BadRequestError("search is at most 255 characters")
        om = self.om

        def listing() -> dict:
            frame = om.runtime.runs(state, target, limit, offset, kind=kind, search=search)
            total = om.runtime.run_count(state, target, kind=kind, search=search)
            return {"items": json_records(frame), "total": total, "limit": limit, "offset": offset}

        self.reply(await self.call(listing))


class RunHandler(OmegaHandler):
    resource = "runs"

    async def get(self, run_id: str) -> None:
        om = self.om
        self.reply(await self.call(lambda: om.runtime.run_record(run_id).to_dict()))


class RunNotebookHandler(OmegaHandler):
    resource = "runs"

    async def get(self, run_id: str) -> None:
        om = self.om

        def notebook() -> Any:
            om.runtime.run_record(run_id)  # unknown run: 404
            return om.jobs.result(run_id)

        self.reply(await self.call(notebook))


class RunCancelHandler(OmegaHandler):
    resource = "runs"

    async def post(self, run_id: str) -> None:
        om = self.om
        cancelled = await self.call(lambda: om.runtime.run(run_id).cancel())
        self.reply({"run": run_id, "cancelled": bool(cancelled)})


class LogsHandler(OmegaHandler):
    resource = "logs"

    async def get(self) -> None:
        limit = payloads.int_param(self.arg("limit"), "limit", 1000, minimum=1)
        # an empty parameter is no filter, as for every other query parameter
        level, run, since = self.arg("level") or None, self.arg("run"), self.arg("since") or None
        om = self.om

        def lines() -> dict:
            frame = om.logger.dataframe(level=level, run=run, since=since, limit=limit)
            return {"items": json_records(frame), "total": len(frame), "limit": limit}

        self.reply(await self.call(lines))
