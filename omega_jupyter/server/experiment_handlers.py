"""REST routes of experiments: list, a run table, the events (read-only; logging is the
Python API's)."""

from __future__ import annotations

import fnmatch

from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.experiments.experiment import list_experiments, parse_run, to_records
from omega_jupyter.server import payloads, resources
from omega_jupyter.server.handlers import OmegaHandler

DATA_LIMIT = 10_000  # events per GET unless ?limit= says otherwise


class ExperimentsHandler(OmegaHandler):
    """``GET /experiments?name=``: name, runs, events and last event time of each experiment
    whose name matches the glob ``name`` (all without it), paginated."""

    resource = "experiments"

    async def get(self) -> None:
        limit, offset = self.paging()
        pattern = self.arg("name")
        if pattern is not None and len(pattern) > 255:
            raise BadRequestError("name patterns are at most 255 characters")
        om = self.om

        def listing() -> dict:
            items = to_records(list_experiments(om))
            if pattern:
                items = [i for i in items if fnmatch.fnmatchcase(i["name"], pattern)]
            return resources.page(items, limit, offset)

        self.reply(await self.call(listing))


class ExperimentRunsHandler(OmegaHandler):
    """``GET /experiments/{name}/runs``: one row per run, params and last metrics."""

    resource = "experiments"

    async def get(self, name: str) -> None:
        om = self.om

        def runs() -> dict:
            exp = om.runtime.experiment(name).require()
            return {"experiment": exp.name, "items": to_records(exp.runs())}

        self.reply(await self.call(runs))


class ExperimentDataHandler(OmegaHandler):
    """``GET /experiments/{name}/data?event=&key=&run=&limit=``: events, oldest first."""

    resource = "experiments"

    async def get(self, name: str) -> None:
        om = self.om
        run = parse_run(self.arg("run"))
        limit = payloads.int_param(self.arg("limit"), "limit", DATA_LIMIT, minimum=1)
        event = payloads.list_param(self.arg("event"))
        key = payloads.list_param(self.arg("key"))

        def data() -> dict:
            exp = om.runtime.experiment(name).require()
            frame = exp.data(event=event, key=key, run=run, limit=limit)
            return {"experiment": exp.name, "items": to_records(frame)}

        self.reply(await self.call(data))
