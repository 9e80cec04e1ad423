"""Dataset reads ignore the cache-busting query parameter JupyterLab's ServerConnection appends
(``?1795123456789``), on SQLite and PostgreSQL; real unknown columns stay a 400 naming them."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from omega_jupyter.server import payloads

API = "omega/api/v1"


@pytest.fixture
def get_raw(http_server_client, jp_base_url: str, jp_auth_header: dict):
    """GET with the query string exactly as given (jp_fetch always writes ``key=value``)."""

    async def get(path: str, query: str) -> tuple[int, dict]:
        url = f"{jp_base_url}{API}/{path}?{query}"
        try:
            response = await http_server_client.fetch(url, headers=dict(jp_auth_header))
        except HTTPClientError as exc:
            return exc.code, json.loads(exc.response.body)
        return response.code, json.loads(response.body)

    return get


async def seed(jp_fetch) -> None:
    records = [{"a": i, "b": f"s{i}"} for i in range(5)]
    await jp_fetch(API, "datasets/sales", method="PUT", body=json.dumps(records))


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ("1795123456789", [0, 1, 2, 3, 4]),  # what makeRequest appends to a bare URL
        ("1795123456789=", [0, 1, 2, 3, 4]),
        ("a__gte=3&1795123456789", [3, 4]),  # ... and after existing parameters
        ("limit=2&offset=1&1795123456789", [1, 2]),
    ],
)
async def test_cache_buster_is_not_a_filter(get_raw, jp_fetch, query: str, rows: list) -> None:
    await seed(jp_fetch)
    status, body = await get_raw("datasets/sales", query)
    assert status == 200, body
    assert [r["a"] for r in body["data"]] == rows


async def test_cache_buster_on_a_non_frame_dataset(get_raw, om) -> None:
    om.datasets.put({"x": 1}, "plain")  # the server's bucket: REST only writes frames
    status, body = await get_raw("datasets/plain", "1795123456789")
    assert status == 200, body


@pytest.mark.parametrize(
    ("query", "column"),
    [("nosuch=1", "nosuch"), ("1795123456789=5", "1795123456789"), ("a__gte=3&bb=", "bb")],
)
async def test_unknown_columns_stay_errors(get_raw, jp_fetch, query: str, column: str) -> None:
    await seed(jp_fetch)
    status, body = await get_raw("datasets/sales", query)
    assert status == 400
    assert column in body["message"]


def test_filter_args_drops_read_params_and_cache_busters() -> None:
    args = {
        "limit": [b"2"],
        "1795123456789": [b""],
        "12": [b"3"],
        "a__gte": [b"1", b"4"],
        "\u00b2": [b""],  # a Unicode digit is a column name, not a timestamp
    }
    assert payloads.filter_args(args) == {"12": "3", "a__gte": "4", "\u00b2": ""}
