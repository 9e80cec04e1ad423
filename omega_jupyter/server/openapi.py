"""The OpenAPI 3 document of the REST API (served at ``…/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

from omega_jupyter import __version__

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}
NAME_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "Object name, with modifiers (name[a,b], name@3, name^) where they apply",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]
PATTERN = {
    "name": "name",
    "in": "query",
    "description": "glob on names",
    "schema": {"type": "string"},
}
BUCKET = {"name": "Bucket", "in": "header", "required": False, "schema": {"type": "string"}}
RECORDS = {"type": "array", "items": {"type": "object"}}
SPLIT = {
    "type": "object",
    "required": ["columns", "data"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "array", "items": {"type": "array"}},
        "index": {"type": "array"},
    },
}
FRAME_BODY = {
    "content": {
        "application/json": {"schema": {"oneOf": [RECORDS, SPLIT]}},
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    }
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
OBJECT_BODY = {"content": {"application/json": {"schema": {"type": "object"}}}}
ANY_BODY = {"content": {"application/json": {"schema": {}}}}
DATASET_READ = [
    NAME_PARAM,
    *PAGING,
    {
        "name": "columns",
        "in": "query",
        "schema": STRING,
        "description": "comma-separated column names",
    },
    {"name": "orient", "in": "query", "schema": {"enum": ["records", "split"]}},
    {"name": "format", "in": "query", "schema": {"enum": ["json", "csv", "parquet"]}},
]
DATASET_WRITE = [
    NAME_PARAM,
    {"name": "append", "in": "query", "schema": {"type": "boolean"}},
    {
        "name": "encoding",
        "in": "query",
        "schema": {"type": "string", "default": "utf-8"},
        "description": "text encoding of a text/csv body (latin-1, cp1252 …)",
    },
]
RUNS_QUERY = [
    {"name": "job", "in": "query", "schema": STRING},
    {"name": "state", "in": "query", "schema": STRING},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]
PAUSE_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["paused"],
                "properties": {"paused": {"type": "boolean"}},
                "additionalProperties": False,
            }
        }
    }
}
LOGS_QUERY = [
    {"name": "run", "in": "query", "schema": STRING},
    {"name": "level", "in": "query", "schema": STRING},
    {"name": "since", "in": "query", "schema": STRING},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]
MODEL_INPUT = [
    {"name": "datax", "in": "query", "schema": STRING, "description": "dataset"},
    {"name": "datay", "in": "query", "schema": STRING, "description": "for score"},
    {"name": "async", "in": "query", "schema": {"type": "boolean"}},
    {
        "name": "max_retries",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0},
        "description": "with async=true: tries again should the run lose its worker (default 1)",
    },
]
MODEL_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "{columns,data} | {data:[{}]} | dataframe_split | "
                "dataframe_records | inputs | instances; y for score",
            }
        }
    }
}
STREAM_READ = [
    NAME_PARAM,
    {
        "name": "since",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0},
        "description": "last offset seen",
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]
STREAM_WRITE = [NAME_PARAM, {"name": "batch", "in": "query", "schema": {"type": "boolean"}}]
PUBLIC = {"security": [], "responses": {"200": {"description": "ok"}}}


def action_param(actions: tuple[str, ...]) -> dict[str, Any]:
    return {"name": "action", "in": "path", "required": True, "schema": {"enum": list(actions)}}


def document(operations: dict[str, dict[str, Any]], prefix: str = "/api/v1") -> dict[str, Any]:
    """The document of ``operations`` ({path: {verb: operation}}), served under ``prefix``."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "omega_jupyter REST API", "version": __version__},
        "servers": [{"url": prefix}],
        "paths": operations,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {"apikey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apikey": []}],
    }
