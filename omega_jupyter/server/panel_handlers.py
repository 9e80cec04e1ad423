"""REST routes the JupyterLab panel needs on top of the resources: ``panel/schedule-preview``
(live description and next times while a schedule is typed), ``panel/parameters/{name}``
(the parameters cell of a stored notebook) and ``panel/models/{name}`` (with lineage)."""

from __future__ import annotations

from omega_jupyter.server import openapi, panel
from omega_jupyter.server.handlers import OmegaMixin
from omega_jupyter.server.routes import NAME, register


class SchedulePreviewHandler(OmegaMixin):
    resource = "jobs"

    async def get(self) -> None:
        when, timezone = self.arg("when"), self.arg("timezone")
        self.reply(await self.call(panel.schedule_preview, when, timezone))


class NotebookParametersHandler(OmegaMixin):
    resource = "jobs"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(panel.notebook_parameters, om, name))


class ModelDetailsHandler(OmegaMixin):
    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(panel.model_details, om, name))


register(r"panel/schedule-preview", SchedulePreviewHandler)
register(rf"panel/models/{NAME}", ModelDetailsHandler)
register(rf"panel/parameters/{NAME}", NotebookParametersHandler)

_S = {"type": "string"}
openapi.add_paths(
    {
        "/panel/schedule-preview": {
            "get": openapi.op(
                "Cron, description and next 5 times of a schedule text (nothing saved)",
                [
                    {"name": "when", "in": "query", "required": True, "schema": _S},
                    {"name": "timezone", "in": "query", "schema": _S},
                ],
            )
        },
        "/panel/models/{name}": {
            "get": openapi.op("Versions, tags, signature and lineage", [openapi.NAME_PARAM])
        },
        "/panel/parameters/{name}": {
            "get": openapi.op(
                "Parameters declared in a notebook's parameters cell", [openapi.NAME_PARAM]
            )
        },
    }
)
