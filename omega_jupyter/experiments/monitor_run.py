"""The run kind ``monitor``: a drift check of a tracked model on a worker, what a schedule made
by ``om.runtime.model(name).monitor().schedule(...)`` starts each slot (exactly once per slot,
like every schedule: ``jobs/claims.py``).

The run's parameters are the schedule's: ``against`` (a dataset name, or None for the
predictions logged since the last snapshot), ``alert_stream`` and ``thresholds``. The body is
:meth:`DriftMonitor.check`; the run's result is the comparison (``drift``, ``drifted`` and the
per-feature rows), so ``om.runtime.run(id).result()`` and the run's events show it too.
"""

from __future__ import annotations

import json
from typing import Any

from omega_jupyter.experiments.monitor import MONITOR_KIND, DriftMonitor
from omega_jupyter.runtime.kinds import Outcome, Run, RunKind


def execute(run: Run) -> Outcome:
    params = run.parameters
    monitor = DriftMonitor(run.om, run.name)
    result = monitor.check(
        stream=params.get("alert_stream"),
        against=params.get("against"),
        thresholds=params.get("thresholds"),
    )
    rows = json.loads(result.drop(columns=["tests"]).to_json(orient="records"))
    drifted = [r["feature"] for r in rows if r["drift"]]
    value = {"model": run.name, "drift": bool(drifted), "drifted": drifted, "result": rows}
    return Outcome("succeeded", {"type": "value", "value": value, "output": ""})


def front(runtime: Any, name: str) -> DriftMonitor:
    """``om.runtime.kind('monitor').front(runtime, name)``: the model's drift monitor."""
    return DriftMonitor(runtime.om, name)


MONITOR_RUN = RunKind(MONITOR_KIND, execute, front=front, noun="drift check")
