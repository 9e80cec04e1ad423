"""Model routes inside Jupyter: listing, description, and in-process predict in every input form."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import omega_jupyter
from omega_jupyter.exceptions import ObjectNotFoundError
from omega_jupyter.models.actions import signature_of
from omega_jupyter.models.predict import ModelCache

from .test_server_jupyter import call

COLUMNS = ["sl", "sw", "pl", "pw"]


@pytest.fixture
def iris(database_url: str, bucket: str, jp_serverapp):
    """A fitted LogisticRegression stored as 'iris' (with its signature) and its data as 'X'."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=COLUMNS)
    y = (X["sl"] + X["pw"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    om = omega_jupyter.setup(url=database_url, bucket=bucket)
    om.models.put(model, "iris", signature=signature_of(X), tag="prod")
    om.datasets.put(X, "X")
    om.datasets.put(y.to_frame("y"), "Y")
    jp_serverapp.web_app.settings["omega"].extras["models"] = ModelCache(ttl=0)
    return om, model, X, y


async def test_list_and_describe(jp_fetch, iris) -> None:
    _, body = await call(jp_fetch, "models")
    assert [m["name"] for m in json.loads(body)["items"]] == ["iris"]
    status, body = await call(jp_fetch, "models/iris")
    info = json.loads(body)
    assert status == 200 and info["signature"]["columns"] == COLUMNS
    assert info["versions"][0]["tags"] == ["prod"]


async def test_every_input_form_predicts_the_same(jp_fetch, iris) -> None:
    _om, model, X, _y = iris
    rows = X.head(5)
    expected = model.predict(rows).tolist()
    records = rows.to_dict(orient="records")
    split = {"columns": COLUMNS, "data": rows.values.tolist()}
    bodies = [
        split,
        {"data": records},
        records,
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": rows.values.tolist()},
        {"inputs": {c: rows[c].tolist() for c in COLUMNS}},
        {"instances": records},
    ]
    for body in bodies:
        status, out = await call(jp_fetch, "model/iris/predict", "POST", body)
        assert status == 200, (body, out)
        result = json.loads(out)
        assert result == {"model": "iris", "version": 1, "result": expected}
    _, out = await call(jp_fetch, "model/iris/predict", datax="X[sl,sw,pl,pw]")
    assert json.loads(out)["result"] == model.predict(X).tolist()
    _, out = await call(jp_fetch, "iris/predict", datax="X")  # the short form
    assert json.loads(out)["result"] == model.predict(X).tolist()


async def test_other_actions_and_versions(jp_fetch, iris) -> None:
    om, model, X, y = iris
    _, out = await call(
        jp_fetch, "model/iris@prod/predict_proba", "POST", X.head(2).to_dict("records")
    )
    assert np.allclose(json.loads(out)["result"], model.predict_proba(X.head(2)))
    _, out = await call(jp_fetch, "model/iris/score", datax="X", datay="Y")
    assert json.loads(out)["result"] == pytest.approx(model.score(X, y))
    flipped = LogisticRegression().fit(X, 1 - y)
    om.models.put(flipped, "iris", signature=signature_of(X))
    _, out = await call(jp_fetch, "model/iris/predict", datax="X")
    assert json.loads(out) == {"model": "iris", "version": 2, "result": flipped.predict(X).tolist()}
    _, out = await call(jp_fetch, "model/iris@prod/predict", datax="X")
    assert json.loads(out)["version"] == 1
    om.models.tag("iris", 2, "prod")  # a moved tag is picked up
    _, out = await call(jp_fetch, "model/iris@prod/predict", datax="X")
    assert json.loads(out)["version"] == 2


@pytest.mark.parametrize(
    ("path", "body", "params", "status", "needle"),
    [
        ("model/iris/predict", {"columns": ["sl", "sw", "pl"], "data": [[1, 2, 3]]}, {}, 400, "pw"),
        ("model/iris/predict", {"data": [{"sl": 1}]}, {}, 400, "sw"),
        ("model/iris/predict", {"instances": [[1, 2, 3]]}, {}, 400, "4"),
        ("model/iris/predict", {"instances": [[1, 2], [1]]}, {}, 400, "instances"),
        ("model/iris/predict", {"instances": [["a", "b", "c", "d"]]}, {}, 400, "iris"),
        ("model/iris/predict", {"nothing": 1}, {}, 400, "dataframe_split"),
        ("model/iris/predict", "{broken", {}, 400, "JSON"),
        ("model/iris/predict", None, {}, 400, "datax"),
        ("model/iris/predict", None, {"datax": "nosuchdata"}, 404, "nosuchdata"),
        ("model/iris/score", None, {"datax": "X"}, 400, "targets"),
        ("model/iris/explode", None, {"datax": "X"}, 400, "explode"),
        ("model/nosuch/predict", None, {"datax": "X"}, 404, "nosuch"),
        ("model/iris@7/predict", None, {"datax": "X"}, 404, "7"),
        ("models/nosuch", None, {}, 404, "nosuch"),
    ],
)
async def test_bad_predict_input(jp_fetch, iris, path, body, params, status, needle) -> None:
    method = "GET" if body is None else "POST"
    got, out = await call(jp_fetch, path, method, body, **params)
    assert got == status, out
    error = json.loads(out)
    assert needle in error["message"], error


async def test_delete_drops_every_version_and_tag(jp_fetch, iris) -> None:
    om, model, _X, _y = iris
    om.models.put(model, "iris")  # version 2; 'prod' stays on version 1
    for ref in ("iris", "iris@prod"):  # cached by the server: a dropped model stops at once
        status, _ = await call(jp_fetch, f"model/{ref}/predict", datax="X")
        assert status == 200
    status, body = await call(jp_fetch, "models/iris", "DELETE")
    assert status == 200 and json.loads(body) == {"name": "iris", "deleted": True}
    assert om.models.list() == []
    for ref in ("iris", "iris@prod"):
        status, body = await call(jp_fetch, f"model/{ref}/predict", datax="X")
        assert status == 404, body
    for method in ("GET", "DELETE"):
        status, body = await call(jp_fetch, "models/iris", method)
        assert status == 404 and json.loads(body)["error"] == "not_found", body
    om.models.put(model, "iris")  # a new model of the same name starts without tags
    with pytest.raises(ObjectNotFoundError):
        om.models.metadata("iris@prod")
    _, body = await call(jp_fetch, "models/iris")
    assert [v["tags"] for v in json.loads(body)["versions"]] == [[]]
