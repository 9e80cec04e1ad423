"""REST routes the JupyterLab panel needs on top of the resources: ``panel/schedule-preview``
(live description and next times while a schedule is typed), ``panel/parameters/{name}``
(the parameters cell of a stored notebook) and ``panel/models/{name}`` (with lineage)."""

from __future__ import annotations

from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.server import panel, panel_runs, payloads
from omega_jupyter.server.handlers import OmegaHandler


class SchedulePreviewHandler(OmegaHandler):
    resource = "jobs"

    async def get(self) -> None:
        when, timezone = self.arg("when"), self.arg("timezone")
        self.reply(await self.call(panel.schedule_preview, when, timezone))


class NotebookParametersHandler(OmegaHandler):
    resource = "jobs"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(panel.notebook_parameters, om, name))


class ModelDetailsHandler(OmegaHandler):
    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(panel.model_details, om, name))


class PanelRunsHandler(OmegaHandler):
    """``GET /panel/runs``: the Runs section (``collapse=true``: one item per run group) or
    the Runs view (every run, sorted and filtered); see ``panel_runs``."""

    resource = "runs"

    async def get(self) -> None:
        limit = payloads.int_param(self.arg("limit"), "limit", 50, minimum=1)
        offset = payloads.int_param(self.arg("offset"), "offset", 0, minimum=0) or 0
        search = self.arg("search") or None  # the panel's search: a substring of the target
        if search is not None and len(search) > 255:
            raise BadRequestError("search is at most 255 characters")
        filters = {"state": self.arg("state"), "kind": self.arg("kind"), "search": search}
        om = self.om
        if (self.arg("collapse") or "").lower() == "true":
            answer = panel_runs.runs_collapsed
            self.reply(await self.call(answer, om, limit=limit, offset=offset, **filters))
            return
        order = (self.arg("order") or "desc").lower()
        if order not in ("asc", "desc"):
            raise BadRequestError("order is asc or desc")
        self.reply(
            await self.call(
                panel_runs.runs_table,
                om,
                limit=limit,
                offset=offset,
                target=self.arg("target"),
                action=self.arg("action"),
                trigger=self.arg("trigger"),
                group=self.arg("group"),
                sort=self.arg("sort") or "submitted",
                descending=order == "desc",
                **filters,
            )
        )


class RunExportHandler(OmegaHandler):
    """``GET /runs/{id}/export?format=html``: the executed notebook rendered by nbconvert,
    as a download."""

    resource = "runs"

    async def get(self, run_id: str) -> None:
        format = self.arg("format") or "html"
        om = self.om
        text = await self.call(panel_runs.export_run, om, run_id, format)
        types = {"html": "text/html", "markdown": "text/markdown", "notebook": "application/json"}
        suffix = {"html": "html", "markdown": "md", "notebook": "ipynb", "python": "py"}
        self.set_header("Content-Type", f"{types.get(format, 'text/plain')}; charset=utf-8")
        name = f"run-{run_id}.{suffix.get(format, 'txt')}"
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(text)
