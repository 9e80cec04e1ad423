"""The OpenAPI 3 document of the REST API (served at ``…/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from omega_jupyter import __version__
from omega_jupyter.jobs.tables import MISSED_POLICIES
from omega_jupyter.names import MAX_NAME_LENGTH, name_pattern
from omega_jupyter.runtime.groups import MAX_MEMBERS
from omega_jupyter.runtime.reconcile import MAX_RETRIES
from omega_jupyter.runtime.tables import RUN_STATES
from omega_jupyter.server.payloads import MAX_COLUMNS, MAX_INT_PARAM

# The document says what the server accepts: every input it calls valid gets past the input
# checks (a missing object is still a 404). Inputs it cannot describe (a CSV or Parquet body's
# content, a column or dataset a request names, the input a model takes) are described in prose.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
NAME_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "Object name. The name grammar: 1-255 printable characters, no control or "
    "bidi characters, none of [ ] @ ^ * ?, no leading, trailing or doubled '/', no leading or "
    "trailing whitespace. The pattern lists Latin, Greek and Cyrillic names; names in other "
    "scripts are valid too, and reads also take modifiers (name[a,b], name@3, name@tag, name^).",
    "schema": {"$ref": "#/components/schemas/Name"},
}
NAME = NAME_PARAM["schema"]
NAME_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME_LENGTH,
    "pattern": name_pattern(),
}


def integer(minimum: int = 0, maximum: int = MAX_INT_PARAM) -> dict[str, Any]:
    """An integer query parameter's schema: the server refuses values beyond these bounds."""
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


PAGING = [
    {"name": "limit", "in": "query", "schema": integer()},
    {"name": "offset", "in": "query", "schema": integer()},
]
PROFILE_PARAMS = [
    {
        "name": "bins",
        "in": "query",
        "description": "histogram bins of numeric columns (1-200, default 20)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    {
        "name": "top",
        "in": "query",
        "description": "most frequent values of text, category, bool columns (1-100, default 10)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    {
        "name": "exact",
        "in": "query",
        "description": "exact distinct counts, every figure by SQL (default false: distinct "
        "counts of large numeric/time columns estimated, flagged distinct_approx)",
        "schema": {"type": "boolean"},
    },
]
MONITOR_COMPARE = [
    {
        "name": "baseline",
        "in": "query",
        "description": "snapshot id (default: the latest baseline)",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    },
    {
        "name": "current",
        "in": "query",
        "description": "snapshot id (default: the latest snapshot that is not the baseline)",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
    },
]
MONITOR_MEASURE = {
    "name": "measure",
    "in": "query",
    "description": "what the y axis shows (default statistic)",
    "schema": {"type": "string", "enum": ["statistic", "pvalue", "psi"]},
}
PATTERN = {
    "name": "name",
    "in": "query",
    "description": "glob on names",
    "schema": {"type": "string"},
}
BUCKET = {"name": "Bucket", "in": "header", "required": False, "schema": {"type": "string"}}
# A column label: a name (the grammar above, no '/'); a value: a number or short text (the
# types every column of both databases takes; a column holds one type).
COLUMN = {"type": "string", "minLength": 1, "maxLength": 63, "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
NUMBER_ROW = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 20,
    "propertyNames": COLUMN,
    "additionalProperties": {"type": "number"},
}
RECORDS = {
    "type": "array",
    "minItems": 1,
    "maxItems": 100,
    "items": NUMBER_ROW,
    "description": "records; every record has the same keys (up to "
    f"{MAX_COLUMNS} columns; values of any JSON type are stored as well)",
}
SPLIT = {
    "type": "object",
    "required": ["columns", "data"],
    "properties": {
        "columns": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": COLUMN,
        },
        "data": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "number"}},
        },
    },
    "additionalProperties": False,
    "description": "split: {columns, data[, index]}; every row as long as columns (the schema "
    "shows one column)",
}
FRAME_BODY = {
    "required": True,
    "description": "JSON records or split; text/csv (a header line, then rows of as many "
    "fields; ?encoding=) or a Parquet file. CSV and Parquet bodies are checked by content "
    "(400 when unreadable), which no schema describes.",
    "content": {
        "application/json": {"schema": {"oneOf": [RECORDS, SPLIT]}},
        "text/csv": {"schema": {"type": "string", "minLength": 1}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    },
}


def errors(*codes: int) -> dict[str, Any]:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    text = {
        400: "bad input",
        401: "no or wrong API key",
        403: "not allowed",
        404: "not found",
        409: "conflict",
        413: "body too large",
    }
    return {str(c): {"description": text.get(c, "error"), **ref} for c in codes}


def op(
    summary: str,
    params: list | None = None,
    body: dict | None = None,
    ok: int | tuple[int, ...] = 200,
    codes: tuple[int, ...] = (400, 401, 403, 404),
) -> dict[str, Any]:
    """One operation: summary, parameters, optional request body, responses (``ok``: the
    success status, or each of them)."""
    oks = (ok,) if isinstance(ok, int) else ok
    out: dict[str, Any] = {
        "summary": summary,
        "parameters": [BUCKET, *(params or [])],
        "responses": {**{str(c): {"description": "ok"} for c in oks}, **errors(*codes)},
    }
    if body is not None:
        out["requestBody"] = body
    return out


STRING = {"type": "string"}
RUN_ID_PARAM = {"name": "run_id", "in": "path", "required": True, "schema": STRING}
GROUP_ID_PARAM = {"name": "group_id", "in": "path", "required": True, "schema": STRING}
LIMIT_PARAM = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}
LIST = [PATTERN, *PAGING]


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


OBJECT_BODY = json_body({"type": "object"})
RUN_OPTIONS = {
    "result_stream": NAME,  # publish the run's events to this stream
    "max_retries": {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES},
}
# POST /jobs/{name}/map: members are parameter objects (with ``param``: any JSON values)
MAP_BODY = json_body(
    {
        "type": "object",
        "required": ["members"],
        "additionalProperties": False,
        "properties": {
            "members": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_MEMBERS,
                "items": {"type": "object"},
            },
            "param": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "max_parallel": {"type": "integer", "minimum": 1, "maximum": MAX_MEMBERS},
            "timeout": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
            **RUN_OPTIONS,
        },
    }
)
RESTART_BODY = json_body(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"failed_only": {"type": "boolean", "default": True}},
    },
    required=False,
)
# POST /jobs/{name}/restore: the version to store again as the newest
RESTORE_BODY = json_body(
    {
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "properties": {"version": {"type": "integer", "minimum": 1}},
    }
)
# {parameters, result_stream, max_retries}, or the parameters themselves
JOB_RUN_BODY = json_body(
    {"type": "object", "properties": {"parameters": {"type": "object"}, **RUN_OPTIONS}},
    required=False,
)
# keyword arguments of the script's run(), with result_stream and max_retries
SCRIPT_RUN_BODY = json_body({"type": "object", "properties": RUN_OPTIONS}, required=False)
# apps: start and restart options (stop takes none)
APP_START_BODY = json_body(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "wait": {"type": "boolean"},
            "timeout": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 600},
            "max_crashes": {"type": "integer", "minimum": 1, "maximum": 100},
        },
    },
    required=False,
)
ANY_BODY = json_body({"maxProperties": 50, "maxItems": 50})
DATASET_READ = [
    NAME_PARAM,
    *PAGING,
    {
        "name": "columns",
        "in": "query",
        "schema": STRING,
        "description": "comma-separated column names (an unknown column is a 400)",
    },
    {"name": "orient", "in": "query", "schema": {"enum": ["records", "split"]}},
    {"name": "format", "in": "query", "schema": {"enum": ["json", "csv", "parquet"]}},
]
# Text encodings of a CSV body the document lists; the server takes any Python text codec.
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "ascii", "latin-1", "iso-8859-15", "cp1252"]
DATASET_WRITE = [
    NAME_PARAM,
    {"name": "append", "in": "query", "schema": {"type": "boolean"}},
    {
        "name": "encoding",
        "in": "query",
        "schema": {"enum": ENCODINGS, "default": "utf-8"},
        "description": "text encoding of a text/csv body (any Python text codec; an unknown "
        "one is a 400)",
    },
]
STATE_NAME = "|".join(RUN_STATES)
RUNS_QUERY = [
    {"name": "job", "in": "query", "schema": STRING, "description": "target name"},
    {
        "name": "search",
        "in": "query",
        "schema": {"type": "string", "maxLength": 255},
        "description": "only runs whose target contains this text (any case)",
    },
    {
        "name": "kind",
        "in": "query",
        "schema": {"type": "string", "enum": ["job", "script", "model", "monitor"]},
        "description": "what ran: a notebook (job), a script, a model action or a scheduled "
        "drift check (monitor)",
    },
    {
        "name": "state",
        "in": "query",
        "schema": {"type": "string", "pattern": f"^({STATE_NAME})(,({STATE_NAME}))*$"},
        "description": "one state or several, comma-separated",
    },
    {"name": "limit", "in": "query", "schema": integer(1)},
    {"name": "offset", "in": "query", "schema": integer()},
]
EXPORT_FORMAT = {
    "name": "format",
    "in": "query",
    "schema": {
        "type": "string",
        "enum": ["html", "markdown", "python", "script", "notebook", "latex", "rst", "asciidoc"],
        "default": "html",
    },
}
PANEL_RUNS_QUERY = [
    *RUNS_QUERY[1:],
    {"name": "collapse", "in": "query", "schema": {"type": "boolean"}},
    {"name": "target", "in": "query", "schema": STRING, "description": "what ran (exact name)"},
    {"name": "action", "in": "query", "schema": STRING, "description": "run, fit, predict …"},
    {
        "name": "trigger",
        "in": "query",
        "schema": {"type": "string", "enum": ["manual", "schedule", "api", "map"]},
        "description": "map: members of run groups",
    },
    {"name": "group", "in": "query", "schema": STRING, "description": "a run group's id"},
    {
        "name": "sort",
        "in": "query",
        "schema": {
            "type": "string",
            "enum": [
                "submitted",
                "started",
                "finished",
                "duration",
                "target",
                "action",
                "state",
                "attempt",
            ],
        },
    },
    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"]}},
]
PAUSE_BODY = json_body(
    {
        "type": "object",
        "required": ["paused"],
        "properties": {"paused": {"type": "boolean"}},
        "additionalProperties": False,
    }
)
# A cron expression the document can promise (five fields; days of month up to 28, which
# every month has). The server also reads text such as 'weekdays at 08:30' and every cron
# form croniter takes (ranges, steps, names).
CRON = {
    "type": "string",
    "pattern": r"^(\*|[1-5]?[0-9]) (\*|1?[0-9]|2[0-3]) (\*|[1-9]|1[0-9]|2[0-8]) "
    r"(\*|[1-9]|1[0-2]) (\*|[0-6])$",
    "description": "cron (minute hour day month weekday) or text such as 'weekdays at 08:30'; "
    "unreadable text is a 400",
}
TIMEZONE = {"$ref": "#/components/schemas/TimeZone"}
TIMEZONE_SCHEMA = {
    "type": "string",
    "enum": sorted(available_timezones()),
    "description": "IANA time zone (none: UTC)",
}
SCHEDULE_BODY = json_body(
    {
        "type": "object",
        "required": ["when"],
        "properties": {
            "when": CRON,
            "parameters": {"type": "object"},
            "missed": {"enum": list(MISSED_POLICIES)},
            "max_retries": {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES},
            "timezone": TIMEZONE,
            "paused": {"type": "boolean", "nullable": True},
            # each slot starts a run group: one member per parameter dict
            "map": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_MEMBERS,
                "items": {"type": "object"},
                "nullable": True,
            },
            "max_parallel": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_MEMBERS,
                "nullable": True,
            },
        },
        "additionalProperties": False,
    }
)
# An ISO 8601 time (a date, or date and time with an optional offset) the server reads.
ISO_TIME = (
    r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$"
)
LOGS_QUERY = [
    {"name": "run", "in": "query", "schema": STRING, "description": "a run id"},
    {
        "name": "level",
        "in": "query",
        "schema": {"enum": list(LOG_LEVELS)},
        "description": "lines at this level or above (lower case works too)",
    },
    {
        "name": "since",
        "in": "query",
        "schema": {"type": "string", "pattern": ISO_TIME},
        "description": "lines at or after this time (ISO 8601; local time without an offset)",
    },
    {"name": "limit", "in": "query", "schema": integer(1)},
]
RETRIES = {
    "name": "max_retries",
    "in": "query",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_RETRIES},
    "description": "with async=true: tries again should the run lose its worker (default 1)",
}
DATAX = {"name": "datax", "in": "query", "schema": NAME, "description": "input dataset"}
DATAY = {"name": "datay", "in": "query", "schema": NAME, "description": "targets for score"}
ASYNC = {"name": "async", "in": "query", "schema": {"type": "boolean"}}
# GET takes its input from ?datax= only; POST from the body (or ?datax=, which wins).
MODEL_INPUT_GET = [{**DATAX, "required": True}, DATAY, ASYNC, RETRIES]
MODEL_INPUT = [DATAX, DATAY, ASYNC, RETRIES]
MODEL_BODY = json_body(
    {
        "oneOf": [
            SPLIT,
            {
                "type": "object",
                "required": ["data"],
                "properties": {"data": RECORDS, "y": {"type": "array", "items": {}}},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["instances"],
                "properties": {
                    "instances": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 100,
                        "items": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 1,
                            "items": {"type": "number"},
                        },
                    }
                },
                "additionalProperties": False,
            },
        ],
        "description": "{columns, data} | {data: [{…}]} | dataframe_split | dataframe_records "
        "| inputs | instances, with y (or targets) for score. Whether a model takes the input "
        "(its columns and types) is checked against the model: 400 when it does not.",
    }
)
STREAM_READ = [
    NAME_PARAM,
    {"name": "since", "in": "query", "schema": integer(), "description": "last offset seen"},
    {"name": "limit", "in": "query", "schema": integer(1)},
]
STREAM_WRITE = [
    NAME_PARAM,
    {
        "name": "batch",
        "in": "query",
        "schema": {"type": "boolean"},
        "description": "the body is an array of messages (any other body is one message)",
    },
]
# nbformat 4.4: markdown, code and raw cells (no outputs); the server also stores notebooks
# with outputs, attachments and cell ids (4.5), checked by nbformat.
SOURCE = {"type": "string", "maxLength": 200}
EMPTY = {"type": "object", "additionalProperties": False}


def _cell(kind: str, **more: Any) -> dict[str, Any]:
    props = {"cell_type": {"enum": [kind]}, "metadata": EMPTY, "source": SOURCE, **more}
    return {
        "type": "object",
        "required": list(props),
        "properties": props,
        "additionalProperties": False,
    }


NOTEBOOK = {
    "type": "object",
    "required": ["cells", "metadata", "nbformat", "nbformat_minor"],
    "properties": {
        "nbformat": {"enum": [4]},
        "nbformat_minor": {"enum": [4]},
        "metadata": EMPTY,
        "cells": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "oneOf": [
                    _cell("markdown"),
                    _cell("raw"),
                    _cell(
                        "code",
                        execution_count={"nullable": True, "enum": [None]},
                        outputs={"type": "array", "maxItems": 0},
                    ),
                ]
            },
        },
    },
    "additionalProperties": False,
    "description": "an nbformat 4 notebook (the schema shows the simplest form)",
}
NOTEBOOK_BODY = json_body(NOTEBOOK)
PUBLIC = {"security": [], "responses": {"200": {"description": "ok"}}}


def action_param(actions: tuple[str, ...], name: str = "action") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"enum": list(actions)}}


def document(operations: dict[str, dict[str, Any]], prefix: str = "/api/v1") -> dict[str, Any]:
    """The document of ``operations`` ({path: {verb: operation}}), served under ``prefix``."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "omega_jupyter REST API", "version": __version__},
        "servers": [{"url": prefix}],
        "paths": operations,
        "components": {
            "schemas": {"Error": ERROR, "Name": NAME_SCHEMA, "TimeZone": TIMEZONE_SCHEMA},
            "securitySchemes": {"apikey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apikey": []}],
    }
