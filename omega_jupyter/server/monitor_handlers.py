"""REST routes of a tracked model's drift monitor (read-only: snapshots are taken and checks
scheduled with the Python API): its snapshots, a comparison, the logged comparisons over time
and their Vega-Lite chart. ``docs/rest.md`` describes the JSON."""

from __future__ import annotations

from typing import Any

from omega_jupyter.exceptions import InvalidParameterError, ObjectNotFoundError
from omega_jupyter.experiments.experiment import to_records
from omega_jupyter.experiments.monitor import MEASURES, DriftMonitor, drift_chart
from omega_jupyter.server import payloads
from omega_jupyter.server.handlers import OmegaHandler


def _monitor(om: Any, name: str) -> DriftMonitor:
    """The model's monitor; an untracked model has none: 404 (the Python API says 400)."""
    try:
        return DriftMonitor(om, name)
    except InvalidParameterError as exc:
        raise ObjectNotFoundError(str(exc)) from None


def _schedule(mon: DriftMonitor) -> dict[str, Any] | None:
    try:
        info = mon.schedule_info()
    except ObjectNotFoundError:
        return None
    keep = ("when", "cron", "description", "paused", "next_due", "parameters")
    return {k: info[k] for k in keep}


class MonitorHandler(OmegaHandler):
    """``GET /models/{name}/monitor``: the snapshots (oldest first) and the scheduled check."""

    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om

        def listing() -> dict:
            mon = _monitor(om, name)
            return {
                "model": mon.model,
                "experiment": mon.experiment.name,
                "schedule": _schedule(mon),
                "items": to_records(mon.snapshots()),
            }

        self.reply(await self.call(listing))


class MonitorCompareHandler(OmegaHandler):
    """``GET /models/{name}/monitor/compare?baseline=&current=``: per-feature tests and the
    verdict (the latest baseline and latest other snapshot by default; nothing is logged)."""

    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om
        baseline, current = self.arg("baseline"), self.arg("current")

        def compare() -> dict:
            return _monitor(om, name).report(baseline or None, current or None)

        self.reply(await self.call(compare))


class MonitorHistoryHandler(OmegaHandler):
    """``GET /models/{name}/monitor/history``: every logged comparison, per feature."""

    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om

        def history() -> dict:
            mon = _monitor(om, name)
            return {"model": mon.model, "items": to_records(mon.history())}

        self.reply(await self.call(history))


class MonitorPlotHandler(OmegaHandler):
    """``GET /models/{name}/monitor/plot?measure=statistic|pvalue|psi``: a Vega-Lite spec of
    each feature's drift over time."""

    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om
        measure = payloads.choice_param(self.arg("measure"), "measure", MEASURES, "statistic")

        def plot() -> dict:
            mon = _monitor(om, name)
            return drift_chart(mon.model, mon.history(), measure)

        self.reply(await self.call(plot))
