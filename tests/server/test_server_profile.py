"""``GET /api/v1/datasets/{name}/profile`` in the Jupyter server extension."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import omega_jupyter
from omega_jupyter.server.routes import ROUTES
from tests.server.test_server_jupyter import call


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": np.arange(40, dtype="float64"),
            'odd "name"': ["x", "y", "x", None] * 10,
            "empty": [np.nan] * 40,
        }
    )


def test_the_route_is_documented() -> None:
    paths = {r.path for r in ROUTES}
    assert "/datasets/{name}/profile" in paths


async def test_rest_profile(jp_fetch, database_url, bucket) -> None:
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    om.datasets.put(frame(), "sales")
    om.datasets.put({"a": 1}, "pydata")
    status, body = await call(jp_fetch, "datasets/sales/profile", bins="5")
    assert status == 200, body
    data = json.loads(body)
    assert data["name"] == "sales" and data["rows"] == 40 and data["bins"] == 5
    amount, odd, empty = data["columns"]
    assert len(amount["histogram"]) == 5 and amount["vega_lite"]["mark"]["type"] == "bar"
    assert odd["name"] == 'odd "name"' and odd["top"][0] == {"value": "x", "count": 20}
    assert empty["count"] == 0 and empty["vega_lite"] is None
    assert data["exact"] is True and amount["distinct_approx"] is False  # 40 rows: all counted
    status, body = await call(jp_fetch, "datasets/sales/profile", exact="true")
    assert status == 200 and json.loads(body)["source"] == "database", body
    status, body = await call(jp_fetch, "datasets/nope/profile")
    assert status == 404 and json.loads(body)["error"] == "not_found"
    status, body = await call(jp_fetch, "datasets/pydata/profile")
    assert status == 400 and "only DataFrames and Series" in json.loads(body)["message"]
    for bad in ({"bins": "0"}, {"bins": "x"}, {"top": "1000"}, {"exact": "maybe"}):
        status, body = await call(jp_fetch, "datasets/sales/profile", **bad)
        assert status == 400, (bad, body)
    status, body = await call(jp_fetch, "openapi.json")
    assert "/datasets/{name}/profile" in json.loads(body)["paths"]
