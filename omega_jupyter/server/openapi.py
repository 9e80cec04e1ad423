"""The OpenAPI 3 document of the REST API (served at ``…/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

from omega_jupyter import __version__

_extra_paths: dict[str, dict[str, Any]] = {}

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
    ok: int = 200,
    codes: tuple[int, ...] = (400, 401, 403, 404),
) -> dict[str, Any]:
    """One operation: summary, parameters, optional request body, responses."""
    out: dict[str, Any] = {
        "summary": summary,
        "parameters": [BUCKET, *(params or [])],
        "responses": {str(ok): {"description": "ok"}, **errors(*codes)},
    }
    if body is not None:
        out["requestBody"] = body
    return out


def add_paths(paths: dict[str, dict[str, Any]]) -> None:
    """Describe more routes (resource modules call this when they register)."""
    _extra_paths.update(paths)


def document(prefix: str = "/api/v1") -> dict[str, Any]:
    read_params = [
        NAME_PARAM,
        *PAGING,
        {
            "name": "columns",
            "in": "query",
            "schema": {"type": "string"},
            "description": "comma-separated column names",
        },
        {"name": "orient", "in": "query", "schema": {"enum": ["records", "split"]}},
        {"name": "format", "in": "query", "schema": {"enum": ["json", "csv", "parquet"]}},
    ]
    write_params = [
        NAME_PARAM,
        {"name": "append", "in": "query", "schema": {"type": "boolean"}},
        {
            "name": "encoding",
            "in": "query",
            "schema": {"type": "string", "default": "utf-8"},
            "description": "text encoding of a text/csv body (latin-1, cp1252 …)",
        },
    ]
    paths: dict[str, dict[str, Any]] = {
        "/ping": {
            "get": {
                "summary": "Liveness; needs no key",
                "security": [],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/health": {
            "get": {
                "summary": "Database reachable; needs no key",
                "security": [],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/datasets": {"get": op("List datasets", [PATTERN, *PAGING], codes=(400, 401, 403))},
        "/datasets/{name}": {
            "get": op(
                "Read rows; filters as col__op=value (eq ne lt lte gt gte in nin "
                "between isnull contains startswith endswith)",
                read_params,
            ),
            "put": op(
                "Store a new version (JSON records/split, CSV or Parquet)",
                write_params,
                FRAME_BODY,
                ok=201,
                codes=(400, 401, 403, 404, 409, 413),
            ),
            "post": op(
                "Store, or append with append=true",
                write_params,
                FRAME_BODY,
                ok=201,
                codes=(400, 401, 403, 404, 409, 413),
            ),
            "delete": op("Drop every version", [NAME_PARAM]),
        },
        "/datasets/{name}/metadata": {"get": op("Metadata, columns and versions", [NAME_PARAM])},
        **_extra_paths,
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "omega_jupyter REST API", "version": __version__},
        "servers": [{"url": prefix}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {"apikey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apikey": []}],
    }
