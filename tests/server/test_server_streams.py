"""Streams through the Jupyter mount of the REST API, on both databases."""

from __future__ import annotations

import json

from .test_server_jupyter import call


async def test_append_read_list_drop(jp_fetch) -> None:
    status, body = await call(jp_fetch, "streams/events", "POST", {"user": 1})
    assert status == 201 and json.loads(body)["offset"] == 1
    status, body = await call(jp_fetch, "streams/events", "POST", [2, 3, "x"], batch="true")
    assert status == 201 and json.loads(body) == {"name": "events", "offset": 4, "appended": 3}
    status, body = await call(jp_fetch, "streams/events", since="1", limit="2")
    page = json.loads(body)
    assert status == 200 and [m["data"] for m in page["messages"]] == [2, 3]
    assert page["next_since"] == 3 and page["messages"][0]["offset"] == 2
    _, body = await call(jp_fetch, "streams/events", since=str(page["next_since"]))
    assert [m["data"] for m in json.loads(body)["messages"]] == ["x"]
    _, body = await call(jp_fetch, "streams")
    assert [s["name"] for s in json.loads(body)["items"]] == ["events"]
    _, body = await call(jp_fetch, "openapi.json")
    assert "/streams/{name}" in json.loads(body)["paths"]
    status, _ = await call(jp_fetch, "streams/events", "DELETE")
    assert status == 200
    status, body = await call(jp_fetch, "streams/events")
    assert status == 404 and json.loads(body)["error"] == "not_found"


async def test_bad_input_is_a_json_error(jp_fetch) -> None:
    for path, method, body, params in [
        ("streams/s", "POST", "{nope", {}),
        ("streams/s", "POST", '{"x": NaN}', {}),
        ("streams/missing", "GET", None, {}),
        ("streams/s", "GET", None, {"since": "-1"}),
        ("streams/a@b", "POST", {"x": 1}, {}),
    ]:
        status, answer = await call(jp_fetch, path, method, body, **params)
        assert status in (400, 404), (path, status, answer)
        assert set(json.loads(answer)) >= {"error", "message"}
    _, answer = await call(jp_fetch, "streams")
    assert json.loads(answer)["items"] == []  # nothing was created by refused input
