"""The worker side of every run, whatever its kind: :func:`run_task` is the one Dask task.

A task gets references (the client's settings, the run id, names and versions), never data.
It opens its own client, then:

1. begins the run: only the copy of the task whose conditional update moves the run from
   ``queued`` to ``running`` executes it (``RunStore.begin``). A copy that finds the run
   running with a stopped heartbeat (its worker died and Dask re-ran the task) fails it; any
   other copy leaves it alone;
2. publishes ``started`` (for kinds that announce it) and beats while the kind's ``execute``
   body runs;
3. ends the run with a conditional update, publishing ``finished`` only if that update ended
   it (a run cancelled meanwhile was published by whoever cancelled it); a body that raises
   fails its run with the error and traceback — the run row is the outcome, also then;
4. drops the temporary datasets the submitter staged for the run;
5. for a member of a run group, sends the group's next members (``groups.py``).

A copy that fails a dead run keeps the temporary datasets while the run has retries left (its
retry reads them), and a copy that skips a run never drops them. Retrying lost runs, and
failing runs whose heartbeat stopped when no copy of their task is left, is
``reconcile.py``'s, for every kind alike.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from omega_jupyter.logs.logger import current_run
from omega_jupyter.runtime.events import RunEvents
from omega_jupyter.runtime.groups import advance_from_task
from omega_jupyter.runtime.kinds import UNPUBLISHED, Outcome, Run
from omega_jupyter.runtime.reconcile import retries_left, stale_message
from omega_jupyter.runtime.worker import client_from_payload, heartbeat, worker_name

log = logging.getLogger("omega_jupyter.runtime")


def run_task(spec: dict[str, Any]) -> dict[str, Any]:
    """Execute one recorded run on a worker; returns ``{"state": ...}`` as recorded.

    ``spec``: ``kind``, ``settings`` (payload), ``run_id``, ``parameters``, ``temporary``
    (datasets to drop afterwards), ``result_stream`` and whatever the kind's body reads.
    """
    om = client_from_payload(spec["settings"])
    runs = om.runtime.runs_store
    run_id = spec["run_id"]
    token = current_run.set(run_id)
    events: RunEvents | None = None
    staged = spec.get("temporary") or []  # dropped at the end unless another attempt needs them
    try:
        kind = om.runtime.kind(spec["kind"])  # a kind this worker does not know fails the run
        verdict, record = runs.begin(run_id, worker_name())
        fields = kind.describe(record)
        events = RunEvents(
            om,
            spec.get("result_stream"),
            run_id,
            kind.name,
            record.target,
            action=record.action,
            version=record.target_version,
            **fields,
        )
        if verdict != "run":  # never execute a run twice
            staged = []
            if verdict == "dead":  # Dask re-ran the task: the worker of the first copy died
                events.end(runs, "failed", stale_message(record, kind.noun))
                if not retries_left(record):
                    staged = spec.get("temporary") or []
            return {"state": runs.get(run_id).state}
        if kind.announces_start:
            events.started(parameters=spec.get("parameters") or {})
        else:
            events.mark_started()
        with heartbeat(runs, run_id):
            outcome = kind.execute(Run(om, spec, record, runs))
        _end(events, runs, outcome, run_id)
        return {"state": outcome.state}
    except Exception as exc:
        # Recorded, not raised: the run row is the outcome, and Dask need not log it again.
        error, trace = f"{type(exc).__name__}: {exc}", traceback.format_exc()
        _end(events, runs, Outcome("failed", error=error, traceback=trace), run_id)
        return {"state": "failed"}
    except BaseException as exc:
        error = f"interrupted: {type(exc).__name__}: {exc}"
        _end(events, runs, Outcome("failed", error=error), run_id)
        raise
    finally:
        current_run.reset(token)
        om.runtime.drop_temporary(staged)
        if spec.get("group"):
            _advance_group(om, spec["group"])


def _advance_group(om: Any, group_id: str) -> None:
    """Send the group's next members; never fails the run (a watcher sends them then)."""
    try:
        advance_from_task(om, group_id)
    except Exception as exc:
        log.warning("run group %s: could not send its next members: %s", group_id, exc)


def _end(events: RunEvents | None, runs: Any, outcome: Outcome, run_id: str) -> None:
    """End the run as ``outcome`` says (conditionally; ``finished`` only if this ended it)."""
    if events is None:  # the run could not even be begun: record why, nothing to publish
        runs.finish(run_id, "failed", error=outcome.error, traceback=outcome.traceback)
        return
    fields = {} if outcome.published is UNPUBLISHED else {"result": outcome.published}
    events.end(
        runs,
        outcome.state,
        outcome.error,
        stored=outcome.stored,
        traceback=outcome.traceback,
        **fields,
    )
