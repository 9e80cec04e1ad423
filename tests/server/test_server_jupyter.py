"""The REST API inside Jupyter (``{base_url}omega/api/v1``), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError

import omega_jupyter
from omega_jupyter.server.routes import ROUTES, handler_verbs, sample_path

API = "omega/api/v1"
JSON = {"Content-Type": "application/json"}


async def call(jp_fetch, path: str, method: str = "GET", body=None, headers=None, **params):
    """(status, body) of a request; errors are returned, not raised."""
    kwargs = {"method": method, "headers": dict(headers or {}), "params": params}
    if body is not None:
        kwargs["body"] = body if isinstance(body, bytes | str) else json.dumps(body)
        kwargs["headers"].setdefault("Content-Type", "application/json")
    elif method in ("POST", "PUT"):
        kwargs["body"] = b""
    try:
        response = await jp_fetch(API, path, **kwargs)
    except HTTPClientError as exc:
        return exc.code, exc.response.body if exc.response else b""
    return response.code, response.body


async def test_ping_and_openapi(jp_fetch) -> None:
    status, body = await call(jp_fetch, "ping")
    assert status == 200 and json.loads(body)["ping"] == "ok"
    status, body = await call(jp_fetch, "openapi.json")
    doc = json.loads(body)
    assert doc["servers"][0]["url"].endswith("/omega/api/v1")
    assert "/datasets/{name}" in doc["paths"]


async def test_dataset_roundtrip_in_all_forms(jp_fetch) -> None:
    records = [{"a": i, "b": f"s{i}", "c": i / 2} for i in range(10)]
    status, body = await call(jp_fetch, "datasets/sales", "PUT", records)
    assert status == 201, body
    assert json.loads(body)["rows"] == 10

    status, body = await call(jp_fetch, "datasets/sales")
    assert json.loads(body)["data"] == records
    status, body = await call(jp_fetch, "datasets/sales", orient="split", limit="2", offset="3")
    page = json.loads(body)
    assert page["data"]["columns"] == ["a", "b", "c"]
    assert page["data"]["data"] == [[3, "s3", 1.5], [4, "s4", 2.0]]
    status, body = await call(jp_fetch, "datasets/sales", a__gte="8", columns="a,b")
    assert json.loads(body)["data"] == [{"a": 8, "b": "s8"}, {"a": 9, "b": "s9"}]
    status, body = await call(jp_fetch, "datasets/sales", b__in="s1,s2", format="csv")
    assert body.decode().splitlines() == ["a,b,c", "1,s1,0.5", "2,s2,1.0"]
    status, body = await call(jp_fetch, "datasets/sales", format="parquet", limit="4")
    assert pd.read_parquet(io.BytesIO(body))["a"].tolist() == [0, 1, 2, 3]
    status, body = await call(jp_fetch, "datasets/sales[^c]", limit="1")
    assert json.loads(body)["data"] == [{"a": 0, "b": "s0"}]


async def test_csv_parquet_and_append(jp_fetch) -> None:
    csv = b"x,y\n1,a\n2,b\n"
    status, _ = await call(jp_fetch, "datasets/t1", "PUT", csv, {"Content-Type": "text/csv"})
    assert status == 201
    buf = io.BytesIO()
    pd.DataFrame({"x": [3], "y": ["c"]}).to_parquet(buf, index=False)
    headers = {"Content-Type": "application/vnd.apache.parquet"}
    status, body = await call(
        jp_fetch, "datasets/t1", "POST", buf.getvalue(), headers, append="true"
    )
    assert status == 200, body
    status, body = await call(
        jp_fetch, "datasets/t1", "POST", {"columns": ["x", "y"], "data": [[4, "d"]]}, append="1"
    )
    assert status == 200, body
    status, body = await call(jp_fetch, "datasets/t1")
    assert [r["x"] for r in json.loads(body)["data"]] == [1, 2, 3, 4]
    status, body = await call(jp_fetch, "datasets/t1/metadata")
    meta = json.loads(body)
    assert meta["kind_meta"]["rows"] == 4 and "location" not in meta
    status, body = await call(jp_fetch, "datasets", name="t*")
    assert [i["name"] for i in json.loads(body)["items"]] == ["t1"]
    status, _ = await call(jp_fetch, "datasets/t1", "DELETE")
    assert status == 200
    status, body = await call(jp_fetch, "datasets/t1")
    assert status == 404 and json.loads(body)["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "status", "code"),
    [
        ("GET", "datasets/missing", None, {}, 404, "not_found"),
        ("GET", "nosuchroute", None, {}, 404, "not_found"),
        ("PUT", "datasets/bad", "{not json", {}, 400, "bad_request"),
        ("PUT", "datasets/bad", {"columns": ["a"], "data": [[1, 2]]}, {}, 400, "bad_request"),
        ("PUT", "datasets/bad", {"foo": 1}, {}, 400, "bad_request"),
        ("PUT", "datasets/bad@2", [{"a": 1}], {}, 400, "invalid_name"),
        ("GET", "datasets/base", None, {"zz'; DROP TABLE om_objects;--": "1"}, 400, None),
        ("GET", "datasets/base", None, {"columns": 'a,"b"); DROP TABLE x;--'}, 400, None),
        ("GET", "datasets/base", None, {"a__gt": "one"}, 400, "invalid_filter"),
        ("GET", "datasets/base", None, {"limit": "-1"}, 400, "bad_request"),
        ("GET", "datasets/base", None, {"format": "xml"}, 400, "bad_request"),
        ("POST", "datasets/base", [{"other": "x"}], {"append": "true"}, 409, "schema_mismatch"),
        ("PUT", "datasets/big", b"[" + b"1," * 600_000 + b"1]", {}, 413, "payload_too_large"),
    ],
)
async def test_bad_input_is_a_clear_json_error(
    jp_fetch, method, path, body, params, status, code
) -> None:
    await call(jp_fetch, "datasets/base", "PUT", [{"a": 1}, {"a": 2}])
    got, payload = await call(jp_fetch, path, method, body, **params)
    assert got == status, payload
    error = json.loads(payload)
    assert set(error) == {"error", "message"} and error["message"]
    if code:
        assert error["error"] == code
    _, after = await call(jp_fetch, "datasets/base")
    assert json.loads(after)["data"] == [{"a": 1}, {"a": 2}]  # nothing changed


async def test_bucket_header_selects_the_bucket(jp_fetch) -> None:
    await call(jp_fetch, "datasets/shared", "PUT", [{"a": 1}], {"Bucket": "team-x"})
    _, body = await call(jp_fetch, "datasets")
    assert "shared" not in [i["name"] for i in json.loads(body)["items"]]
    _, body = await call(jp_fetch, "datasets", headers={"Bucket": "team-x"})
    assert [i["name"] for i in json.loads(body)["items"]] == ["shared"]
    status, body = await call(jp_fetch, "datasets", headers={"Bucket": "bad bucket!"})
    assert status == 400 and json.loads(body)["error"] == "invalid_name"


def _example_paths() -> list[tuple[str, str]]:
    """Every (method, path) of the route table, with sample values in the path."""
    out = []
    for route in ROUTES:
        path = sample_path(route.pattern)
        for verb in ("get", "post", "put", "delete"):
            if verb in handler_verbs(route.handler):
                out.append((verb.upper(), path))
    return out


@pytest.mark.parametrize("creds", ["", "token wrong-token"])
async def test_every_route_requires_jupyter_auth(jp_fetch, creds) -> None:
    routes = _example_paths()
    assert len(routes) >= 8
    for method, path in [*routes, ("GET", "unknown/route")]:
        status, body = await call(jp_fetch, path, method, headers={"Authorization": creds})
        assert status == 403, (method, path, status)
        assert json.loads(body)["error"] == "forbidden"


def test_shipped_config_enables_the_extension() -> None:
    import importlib
    from pathlib import Path

    config = Path(__file__).parents[2] / "jupyter-config/server-config/omega_jupyter.json"
    enabled = json.loads(config.read_text())["ServerApp"]["jpserver_extensions"]
    for module, on in enabled.items():
        assert on
        points = importlib.import_module(module)._jupyter_server_extension_points()
        assert points[0]["app"].name == "omega_jupyter"


async def test_writes_record_the_jupyter_user(jp_fetch, database_url: str, bucket: str) -> None:
    status, body = await call(jp_fetch, "datasets/audited", "PUT", [{"a": 1}])
    assert status == 201, body
    meta = omega_jupyter.setup(url=database_url, bucket=bucket).datasets.metadata("audited")
    assert meta.created_by is not None and meta.created_by.startswith("jupyter:")


async def test_csv_encoding_and_ingest_errors_are_400(jp_fetch) -> None:
    csv = {"Content-Type": "text/csv"}
    latin = "city\nZürich\n".encode("latin-1")
    status, body = await call(jp_fetch, "datasets/cities", "PUT", latin, csv)
    assert status == 400 and "encoding" in json.loads(body)["message"]
    status, body = await call(jp_fetch, "datasets/cities", "PUT", latin, csv, encoding="latin-1")
    assert status == 201, body
    status, body = await call(jp_fetch, "datasets/cities")
    assert json.loads(body)["data"] == [{"city": "Zürich"}]
    status, body = await call(jp_fetch, "datasets/dupes", "PUT", b"a,a\n1,2\n", csv)
    assert status == 400 and "more than once" in json.loads(body)["message"]
    status, body = await call(jp_fetch, "datasets/evil\u202etxt", "PUT", b"a\n1\n", csv)
    assert status == 400 and json.loads(body)["error"] == "invalid_name"
    status, body = await call(jp_fetch, "openapi.json")
    params = json.loads(body)["paths"]["/datasets/{name}"]["put"]["parameters"]
    assert "encoding" in {p["name"] for p in params}
