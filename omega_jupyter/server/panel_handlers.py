"""REST routes the JupyterLab panel needs on top of the resources: ``panel/schedule-preview``
(live description and next times while a schedule is typed), ``panel/parameters/{name}``
(the parameters cell of a stored notebook) and ``panel/models/{name}`` (with lineage)."""

from __future__ import annotations

from omega_jupyter.server import panel
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
