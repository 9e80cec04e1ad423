"""The route table of the REST API: every route, its handler and its OpenAPI operations.

Every handler module is imported here, at module level: a module that fails to import fails
the server's start (and the tests), never just its routes. The OpenAPI document is built from
this same table, so a route cannot be served undocumented or documented unserved.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omega_jupyter.models.predict import ACTIONS
from omega_jupyter.server import app_handlers as apps
from omega_jupyter.server import experiment_handlers as experiments
from omega_jupyter.server import handlers as h
from omega_jupyter.server import job_handlers as jobs
from omega_jupyter.server import mlflow_handlers
from omega_jupyter.server import model_handlers as models
from omega_jupyter.server import monitor_handlers as monitor
from omega_jupyter.server import openapi as doc
from omega_jupyter.server import panel_handlers as panel
from omega_jupyter.server import stream_handlers as streams

NAME = r"(?P<name>[^/].*?)"
RUN_ID = r"(?P<run_id>[^/]+)"
GROUP_ID = r"(?P<group_id>[^/]+)"
ACTION = r"(?P<action>[a-z_]+)"
APP_ACTION = r"(?P<app_action>start|stop|restart)"


@dataclass(frozen=True)
class Route:
    """``pattern`` (relative to the API prefix) served by ``handler``, documented at ``path``.

    ``operations`` describe each verb of the handler ({verb: OpenAPI operation}); a route
    with none is another spelling of ``path``, documented by the route that has them.
    ``public`` routes need no API key in the standalone server.
    """

    pattern: str
    handler: type[h.OmegaHandler]
    path: str
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    public: bool = False


BY_NAME = [doc.NAME_PARAM]
BY_RUN_ID = [doc.RUN_ID_PARAM]
BY_GROUP_ID = [doc.GROUP_ID_PARAM]
ACTION_SUMMARY = "Run an action in the server (or on the cluster with async=true: 202 + Location)"
ACTION_PARAMS = [doc.NAME_PARAM, doc.action_param(ACTIONS), *doc.MODEL_INPUT]
ACTION_GET_PARAMS = [doc.NAME_PARAM, doc.action_param(ACTIONS), *doc.MODEL_INPUT_GET]
WRITE_CODES = (400, 401, 403, 404, 409, 413)
op = doc.op
EXPERIMENT_DATA = [
    doc.NAME_PARAM,
    {"name": "event", "in": "query", "schema": doc.STRING, "description": "e.g. metric,param"},
    {"name": "key", "in": "query", "schema": doc.STRING, "description": "comma-separated"},
    {"name": "run", "in": "query", "schema": doc.STRING, "description": "latest, *, 3 or 1,2"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]

# Order matters: the first pattern that matches serves the request (a NAME may hold a '/').
ROUTES: list[Route] = [
    Route(
        r"ping",
        h.PingHandler,
        "/ping",
        {"get": {"summary": "Liveness; needs no key", **doc.PUBLIC}},
        public=True,
    ),
    Route(
        r"health",
        h.HealthHandler,
        "/health",
        {"get": {"summary": "Database reachable; needs no key", **doc.PUBLIC}},
        public=True,
    ),
    Route(
        r"openapi\.json",
        h.OpenApiHandler,
        "/openapi.json",
        {"get": {"summary": "This document; needs no key", **doc.PUBLIC}},
        public=True,
    ),
    Route(
        r"datasets/?",
        h.DatasetsHandler,
        "/datasets",
        {"get": op("List datasets", doc.LIST, codes=(400, 401, 403))},
    ),
    Route(
        rf"datasets/{NAME}/metadata",
        h.DatasetMetadataHandler,
        "/datasets/{name}/metadata",
        {"get": op("Metadata, columns and versions", BY_NAME)},
    ),
    Route(
        rf"datasets/{NAME}/profile",
        h.DatasetProfileHandler,
        "/datasets/{name}/profile",
        {
            "get": op(
                "Profile computed in the database over every row: per column dtype, "
                "count, nulls, distinct, min/max/mean/std, top values, histogram and a "
                "Vega-Lite chart",
                [*BY_NAME, *doc.PROFILE_PARAMS],
            )
        },
    ),
    Route(
        rf"datasets/{NAME}",
        h.DatasetHandler,
        "/datasets/{name}",
        {
            "get": op(
                "Read rows; filters as col__op=value (eq ne lt lte gt gte in nin "
                "between isnull contains startswith endswith)",
                doc.DATASET_READ,
            ),
            "put": op(
                "Store a new version (JSON records/split, CSV or Parquet); append=true: 200",
                doc.DATASET_WRITE,
                doc.FRAME_BODY,
                ok=(200, 201),
                codes=WRITE_CODES,
            ),
            "post": op(
                "Store (201), or append with append=true (200)",
                doc.DATASET_WRITE,
                doc.FRAME_BODY,
                ok=(200, 201),
                codes=WRITE_CODES,
            ),
            "delete": op("Drop every version", BY_NAME),
        },
    ),
    Route(r"models/?", models.ModelsHandler, "/models", {"get": op("List models", doc.LIST)}),
    # before models/{name}: a NAME may hold a '/'
    Route(
        rf"models/{NAME}/monitor/compare",
        monitor.MonitorCompareHandler,
        "/models/{name}/monitor/compare",
        {
            "get": op(
                "Drift: per-feature tests (KS, chi-square, PSI) of a snapshot against the "
                "baseline, and the verdict; nothing is logged",
                [*BY_NAME, *doc.MONITOR_COMPARE],
            )
        },
    ),
    Route(
        rf"models/{NAME}/monitor/history",
        monitor.MonitorHistoryHandler,
        "/models/{name}/monitor/history",
        {"get": op("Drift: every logged comparison, per feature, oldest first", BY_NAME)},
    ),
    Route(
        rf"models/{NAME}/monitor/plot",
        monitor.MonitorPlotHandler,
        "/models/{name}/monitor/plot",
        {
            "get": op(
                "Drift: a Vega-Lite spec of each feature's drift over time",
                [*BY_NAME, doc.MONITOR_MEASURE],
            )
        },
    ),
    Route(
        rf"models/{NAME}/monitor",
        monitor.MonitorHandler,
        "/models/{name}/monitor",
        {"get": op("Drift monitor: snapshots of a tracked model and its scheduled check", BY_NAME)},
    ),
    Route(
        rf"models/{NAME}",
        models.ModelHandler,
        "/models/{name}",
        {
            "get": op("Versions, tags and signature", BY_NAME),
            "delete": op("Drop a model with all its versions and tags", BY_NAME),
        },
    ),
    Route(
        rf"model/{NAME}/{ACTION}",
        models.ModelActionHandler,
        "/model/{name}/{action}",
        {
            "get": op(ACTION_SUMMARY, ACTION_GET_PARAMS, ok=(200, 202)),
            "post": op(ACTION_SUMMARY, ACTION_PARAMS, doc.MODEL_BODY, ok=(200, 202)),
        },
    ),
    Route(r"jobs/?", jobs.JobsHandler, "/jobs", {"get": op("List notebooks", doc.LIST)}),
    Route(
        rf"jobs/{NAME}/run",
        jobs.JobRunHandler,
        "/jobs/{name}/run",
        {
            "post": op(
                "Run with {parameters, result_stream, max_retries}: 202 + Location",
                BY_NAME,
                doc.JOB_RUN_BODY,
                202,
            ),
        },
    ),
    Route(
        rf"jobs/{NAME}/map",
        jobs.JobMapHandler,
        "/jobs/{name}/map",
        {
            "post": op(
                "Run once per member: {members, param, max_parallel, timeout, result_stream, "
                "max_retries}; 202 + Location of the run group",
                BY_NAME,
                doc.MAP_BODY,
                202,
            ),
        },
    ),
    Route(
        rf"jobs/{NAME}/schedule",
        jobs.ScheduleHandler,
        "/jobs/{name}/schedule",
        {
            "get": op("The schedule: next times, paused", BY_NAME),
            "put": op(
                "Set {when, parameters, missed, max_retries, timezone, paused}; "
                "without paused a changed schedule stays paused or active",
                BY_NAME,
                doc.SCHEDULE_BODY,
            ),
            "patch": op(
                "Pause or resume with {paused}; a resumed schedule runs from the next slot "
                "after now (slots during the pause are not run)",
                BY_NAME,
                doc.PAUSE_BODY,
            ),
            "delete": op("Remove the schedule", BY_NAME),
        },
    ),
    Route(
        rf"jobs/{NAME}/versions",
        jobs.JobVersionsHandler,
        "/jobs/{name}/versions",
        {
            "get": op(
                "Every kept version, newest first: version, created, size, cells, restored_from",
                BY_NAME,
            )
        },
    ),
    Route(
        rf"jobs/{NAME}/restore",
        jobs.JobRestoreHandler,
        "/jobs/{name}/restore",
        {
            "post": op(
                "Store version {version} again as the newest version (the ones between stay)",
                BY_NAME,
                doc.RESTORE_BODY,
                ok=201,
                codes=WRITE_CODES,
            )
        },
    ),
    Route(
        rf"jobs/{NAME}",
        jobs.JobHandler,
        "/jobs/{name}",
        {
            "get": op("The notebook (nbformat JSON)", BY_NAME),
            "put": op("Store a notebook (nbformat JSON)", BY_NAME, doc.NOTEBOOK_BODY, ok=201),
            "delete": op("Drop a notebook", BY_NAME),
        },
    ),
    Route(
        r"scripts/?", jobs.ScriptsHandler, "/scripts", {"get": op("List script packages", doc.LIST)}
    ),
    Route(
        rf"scripts/{NAME}/run",
        jobs.ScriptRunHandler,
        "/scripts/{name}/run",
        {
            "post": op(
                "Run with keyword arguments (and result_stream, max_retries): 202",
                BY_NAME,
                doc.SCRIPT_RUN_BODY,
                202,
            ),
        },
    ),
    Route(
        rf"scripts/{NAME}",
        jobs.ScriptHandler,
        "/scripts/{name}",
        {
            "get": op("Metadata and versions of a script package", BY_NAME),
            "delete": op("Drop a script package (all versions) and its schedule", BY_NAME),
        },
    ),
    Route(
        r"runs/?",
        jobs.RunsHandler,
        "/runs",
        {"get": op("Runs, newest first: {items, total, limit, offset}", doc.RUNS_QUERY)},
    ),
    Route(
        rf"runs/{RUN_ID}/notebook",
        jobs.RunNotebookHandler,
        "/runs/{run_id}/notebook",
        {"get": op("The executed notebook", BY_RUN_ID)},
    ),
    Route(
        rf"runs/{RUN_ID}/export",
        panel.RunExportHandler,
        "/runs/{run_id}/export",
        {
            "get": op(
                "The executed notebook rendered by nbconvert, as a download (?format=html)",
                [*BY_RUN_ID, doc.EXPORT_FORMAT],
            )
        },
    ),
    Route(
        rf"runs/{RUN_ID}/cancel",
        jobs.RunCancelHandler,
        "/runs/{run_id}/cancel",
        {"post": op("Cancel a run", BY_RUN_ID)},
    ),
    Route(
        rf"runs/{RUN_ID}",
        jobs.RunHandler,
        "/runs/{run_id}",
        {"get": op("State, progress, error", BY_RUN_ID)},
    ),
    Route(
        r"groups/?",
        jobs.GroupsHandler,
        "/groups",
        {"get": op("Run groups, newest first", [doc.LIMIT_PARAM])},
    ),
    Route(
        rf"groups/{GROUP_ID}/cancel",
        jobs.GroupCancelHandler,
        "/groups/{group_id}/cancel",
        {"post": op("Send no more members; cancel those queued or running", BY_GROUP_ID)},
    ),
    Route(
        rf"groups/{GROUP_ID}/restart",
        jobs.GroupRestartHandler,
        "/groups/{group_id}/restart",
        {
            "post": op(
                "Run again the members without a result ({failed_only: false}: every member "
                "not running)",
                BY_GROUP_ID,
                doc.RESTART_BODY,
            )
        },
    ),
    Route(
        rf"groups/{GROUP_ID}",
        jobs.GroupHandler,
        "/groups/{group_id}",
        {"get": op("Counts by state and each member's latest run", BY_GROUP_ID)},
    ),
    Route(
        r"logs/?", jobs.LogsHandler, "/logs", {"get": op("Log lines, oldest first", doc.LOGS_QUERY)}
    ),
    Route(
        r"panel/schedule-preview",
        panel.SchedulePreviewHandler,
        "/panel/schedule-preview",
        {
            "get": op(
                "Cron, description and next 5 times of a schedule text (nothing saved)",
                [
                    {"name": "when", "in": "query", "required": True, "schema": doc.CRON},
                    {"name": "timezone", "in": "query", "schema": doc.TIMEZONE},
                ],
            ),
        },
    ),
    Route(
        r"panel/runs",
        panel.PanelRunsHandler,
        "/panel/runs",
        {
            "get": op(
                "Runs for the panel: collapse=true, runs outside groups and one item per run "
                "group (counts by state, failed members), newest first; else every run, "
                "filtered and sorted",
                doc.PANEL_RUNS_QUERY,
            )
        },
    ),
    Route(
        rf"panel/models/{NAME}",
        panel.ModelDetailsHandler,
        "/panel/models/{name}",
        {"get": op("Versions, tags, signature and lineage", BY_NAME)},
    ),
    Route(
        rf"panel/parameters/{NAME}",
        panel.NotebookParametersHandler,
        "/panel/parameters/{name}",
        {"get": op("Parameters declared in a notebook's parameters cell", BY_NAME)},
    ),
    Route(
        r"experiments/?",
        experiments.ExperimentsHandler,
        "/experiments",
        {"get": op("List experiments: name, runs, events, last", doc.LIST)},
    ),
    Route(
        rf"experiments/{NAME}/runs",
        experiments.ExperimentRunsHandler,
        "/experiments/{name}/runs",
        {"get": op("Runs: status, duration, links, params and last metrics", BY_NAME)},
    ),
    Route(
        rf"experiments/{NAME}/data",
        experiments.ExperimentDataHandler,
        "/experiments/{name}/data",
        {"get": op("Events, oldest first (the latest run unless ?run=)", EXPERIMENT_DATA)},
    ),
    Route(
        r"apps/?",
        apps.AppsHandler,
        "/apps",
        {"get": op("Apps that ran in this bucket, each with its status", doc.PAGING)},
    ),
    Route(
        rf"apps/{NAME}/logs",
        apps.AppLogsHandler,
        "/apps/{name}/logs",
        {"get": op("The last lines its latest run logged", [*BY_NAME, doc.LIMIT_PARAM])},
    ),
    Route(
        rf"apps/{NAME}/{APP_ACTION}",
        apps.AppActionHandler,
        "/apps/{name}/{app_action}",
        {
            "post": op(
                "start, stop or restart; start and restart take {wait, timeout, max_crashes} "
                "and answer 202 (200 with wait: once it serves); stop answers 200 once the "
                "process ended (within timeout); the app's status",
                [*BY_NAME, doc.action_param(apps.APP_ACTIONS, "app_action")],
                doc.APP_START_BODY,
                ok=(200, 202),
            )
        },
    ),
    Route(
        rf"apps/{NAME}",
        apps.AppHandler,
        "/apps/{name}",
        {"get": op("The app's status (state, serving, host, port, crashes, error)", BY_NAME)},
    ),
    Route(r"streams/?", streams.StreamsHandler, "/streams", {"get": op("List streams", doc.LIST)}),
    Route(
        rf"streams/{NAME}",
        streams.StreamHandler,
        "/streams/{name}",
        {
            "get": op("Messages after ?since= (oldest first)", doc.STREAM_READ),
            "post": op(
                "Append a message (?batch=true: an array)", doc.STREAM_WRITE, doc.ANY_BODY, 201
            ),
            "delete": op("Drop the stream", BY_NAME),
        },
    ),
    # The short form ``/api/v1/{name}/predict?datax=…`` (single-segment model names); last, so
    # that every named route wins.
    Route(
        r"(?P<name>[^/]+)/(?P<action>predict|predict_proba|score|transform)",
        models.ModelActionHandler,
        "/model/{name}/{action}",
    ),
]

# MLflow's tracking REST API (``mlflow_handlers``), mounted at its own prefix (``/mlflow`` in
# ``om serve``, ``{base_url}omega/mlflow`` in Jupyter): one route answers every path under it
# (unknown MLflow endpoints in MLflow's error shape). It is MLflow's API, documented by MLflow
# and in docs/rest.md, not in this server's OpenAPI document.
MLFLOW_ROUTES: list[Route] = [
    Route(r"(?P<endpoint>.*)", mlflow_handlers.MlflowHandler, "/api/2.0/mlflow/{endpoint}"),
]


def openapi_document(prefix: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI document of ``ROUTES`` (served at ``{prefix}/openapi.json``)."""
    paths = {route.path: route.operations for route in ROUTES if route.operations}
    return doc.document(paths, prefix)


def handler_verbs(handler: type[h.OmegaHandler]) -> list[str]:
    """The HTTP verbs ``handler`` serves (tornado's unimplemented defaults left out)."""
    return [verb.lower() for verb in handler.allowed_methods()]


def mount(
    prefix: str,
    base: type,
    guard: Callable[[Callable], Callable],
    guard_public: bool,
    routes: list[Route] | None = None,
) -> list[tuple[str, type, dict]]:
    """Tornado URL specs for every route under ``prefix`` (no trailing slash).

    Each handler is mounted on ``base`` (the server's handler class: who the caller is, which
    bucket), with every verb wrapped by ``guard`` (the server's authentication), public
    routes too unless ``guard_public`` is False; each verb runs once the body is in
    (``with_body``). Any other path under ``prefix`` is a JSON 404. ``routes``: another
    table than ``ROUTES`` (``MLFLOW_ROUTES``), which answers every path itself.
    """
    not_found = Route(r"(?P<path>.*)", h.NotFoundHandler, "")
    specs: list[tuple[str, type, dict]] = []
    for route in [*ROUTES, not_found] if routes is None else routes:
        attrs: dict[str, Any] = {}
        guarded = not route.public or guard_public
        for verb in handler_verbs(route.handler):
            method = h.with_body(getattr(route.handler, verb))
            attrs[verb] = guard(method) if guarded else method
        cls = type(route.handler.__name__, (route.handler, base), attrs)
        kwargs = {"document": openapi_document} if route.handler is h.OpenApiHandler else {}
        specs.append((f"{prefix}/{route.pattern}$", cls, kwargs))
    return specs


def sample_path(pattern: str) -> str:
    """A concrete path matching a route ``pattern`` (sample values for its groups)."""
    samples = {"action": "predict", "run_id": "1", "app_action": "stop"}

    def group(match: re.Match) -> str:
        return samples.get(match[1], "x")

    path = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", group, pattern)
    return path.replace(r"\.", ".").replace("/?", "")
