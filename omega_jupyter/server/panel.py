"""What the JupyterLab panel asks for beyond the plain resources: a live preview of a
schedule (description and next times, nothing saved) and the parameters a notebook declares.

Plain functions on a client (no tornado), like ``resources``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.experiments.experiment import to_records
from omega_jupyter.experiments.recorder import recorder_for
from omega_jupyter.experiments.tables import events
from omega_jupyter.jobs import timetable

MAX_WHEN = 200
MAX_EXPERIMENT_RUNS = 50  # experiment runs shown in a model's view


def schedule_preview(
    when: str | None, timezone: str | None = None, count: int = 5, now: datetime | None = None
) -> dict[str, Any]:
    """The cron, human description and next ``count`` times of ``when`` (cron or text)."""
    text = (when or "").strip()
    if not text:
        raise BadRequestError("send ?when=<cron or text>, e.g. 'weekdays at 08:30'")
    if len(text) > MAX_WHEN:
        raise BadRequestError(f"a schedule is at most {MAX_WHEN} characters")
    cron = timetable.to_cron(text)
    after = now or datetime.now(UTC)
    times = timetable.next_times(cron, after, count, timezone or None)
    return {
        "when": text,
        "cron": cron,
        "description": timetable.describe(cron),
        "timezone": timezone or None,
        "next_times": [t.isoformat() for t in times],
    }


def notebook_parameters(om: Omega, name: str) -> dict[str, Any]:
    """The parameters declared in the cell tagged ``parameters`` of notebook ``name``:
    name, inferred type, default (as source text) and help comment of each."""
    from papermill.translators import papermill_translators

    node = om.jobs.get(name)
    cell = next(
        (c for c in node.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None
    )
    if cell is None:
        return {"name": name, "cell": False, "parameters": []}
    kernelspec = node.metadata.get("kernelspec", {})
    language = node.metadata.get("language_info", {}).get("name") or kernelspec.get("language")
    try:
        translator = papermill_translators.find_translator(
            kernelspec.get("name", "python3"), language or "python"
        )
    except Exception:  # papermill knows no translator for this language: nothing to infer
        return {"name": name, "cell": True, "parameters": []}
    found = translator.inspect(cell)
    return {
        "name": name,
        "cell": True,
        "parameters": [
            {"name": p.name, "type": p.inferred_type_name, "default": p.default, "help": p.help}
            for p in found
        ],
    }


def model_details(om: Omega, name: str) -> dict[str, Any]:
    """A model's versions, tags and signature plus its lineage (how it was made)."""
    details = om.models.describe(name)
    meta = om.models.metadata(name)
    details["lineage"] = meta.attributes.get("lineage") or {}
    details["libraries"] = meta.kind_meta.get("versions") or {}
    # Each version's own lineage (the datasets and run that made it), for the model view.
    lineages = {
        m.version: m.attributes.get("lineage") or {} for m in om.models.meta.versions(meta.name)
    }
    for version in details["versions"]:
        version["lineage"] = lineages.get(version["version"], {})
    details["experiments"] = model_experiment_runs(om, meta.name)
    return details


def model_experiment_runs(om: Omega, model: str, limit: int = MAX_EXPERIMENT_RUNS) -> list[dict]:
    """The experiment runs linked to ``model`` (a tracked fit, a run opened with
    ``model=``), newest first: experiment, run, status, started, model version, each metric's
    last value. Empty when no experiment names the model."""
    recorder_for(om.db).flush()
    om.db.ensure_schema()
    query = (
        sa.select(events.c.experiment)
        .where(events.c.bucket == om.bucket, events.c.model == model, events.c.run.is_not(None))
        .distinct()
    )
    with om.db.connect() as conn:
        names = sorted(row[0] for row in conn.execute(query))
    found: list[dict] = []
    for name in names:
        frame = om.runtime.experiment(name).runs()
        if frame.empty or "model" not in frame:
            continue
        for row in to_records(frame[frame["model"] == model].reset_index(drop=True)):
            metrics = {
                key.split(".", 1)[1]: value
                for key, value in row.items()
                if key.startswith("metric.") and value is not None
            }
            found.append(
                {
                    "experiment": name,
                    "run": row.get("run"),
                    "status": row.get("status"),
                    "started": row.get("started"),
                    "model_version": row.get("model_version"),
                    "runtime_run": row.get("runtime_run"),
                    "metrics": metrics,
                }
            )
    found.sort(key=lambda r: str(r["started"] or ""), reverse=True)
    return found[:limit]
