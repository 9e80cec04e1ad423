"""The model store: versions, tags, formats, trust, lineage fields; on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sqlalchemy as sa
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import omega_jupyter
from omega_jupyter.exceptions import (
    InvalidNameError,
    ModelMethodError,
    ObjectNotFoundError,
    SignatureMismatchError,
    UnsupportedObjectError,
    UntrustedModelError,
)
from omega_jupyter.models.predict import LOADED, ModelCache, apply
from omega_jupyter.models.serializers import ModelVersionWarning
from omega_jupyter.storage.schema import blob_chunks, objects


class Opaque:
    """An object skops has no safe representation for."""

    def __init__(self, value: int = 1) -> None:
        self.value = value

    def predict(self, X):  # type: ignore[no-untyped-def]
        return np.full(len(X), self.value)


@pytest.fixture(scope="module")
def iris():  # type: ignore[no-untyped-def]
    return load_iris(return_X_y=True, as_frame=True)


def test_every_put_is_a_new_version(om, iris) -> None:
    X, y = iris
    first = om.models.put(LogisticRegression(max_iter=300).fit(X, y), "clf")
    second = om.models.put(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), "clf")
    assert (first.version, second.version) == (1, 2)
    assert first.kind == "model.skops" and first.kind_meta["format"] == "skops"
    assert set(first.kind_meta["versions"]) >= {"python", "numpy", "sklearn", "skops"}
    assert len(first.kind_meta["sha256"]) == 64
    assert type(om.models.get("clf")).__name__ == "Pipeline"
    assert isinstance(om.models.get("clf@1"), LogisticRegression)
    assert isinstance(om.models.get("clf^"), LogisticRegression)
    np.testing.assert_array_equal(om.models.get("clf@1").predict(X), first_predict(X, y))
    assert om.models.list() == ["clf"]
    assert om.models.exists("clf@2") and not om.models.exists("clf@3")


def first_predict(X, y):  # type: ignore[no-untyped-def]
    return LogisticRegression(max_iter=300).fit(X, y).predict(X)


def test_tags_move_atomically(om, iris) -> None:
    X, y = iris
    for _ in range(3):
        om.models.put(LogisticRegression(max_iter=300).fit(X, y), "m")
    om.models.tag("m", 1, "prod")
    assert om.models.metadata("m@prod").version == 1
    om.models.tag("m", 3, "prod")
    assert om.models.metadata("m@prod").version == 3
    tags = om.models.versions("m").set_index("version")["tags"].to_dict()
    assert tags == {1: "", 2: "", 3: "prod"}
    meta = om.models.put(LogisticRegression(max_iter=300).fit(X, y), "m", tag="prod")
    assert om.models.metadata("m@prod").version == meta.version == 4
    om.models.untag("m", "prod")
    with pytest.raises(ObjectNotFoundError, match="no version tagged 'prod'"):
        om.models.get("m@prod")


def test_tag_bad_input_changes_nothing(om, iris) -> None:
    X, y = iris
    om.models.put(LogisticRegression(max_iter=300).fit(X, y), "m", tag="prod")
    with pytest.raises(ObjectNotFoundError, match="no version 7"):
        om.models.tag("m", 7, "prod")
    with pytest.raises(InvalidNameError):
        om.models.tag("m", 1, "12")
    with pytest.raises(ObjectNotFoundError):
        om.models.tag("nope", 1, "prod")
    assert om.models.metadata("m@prod").version == 1


def test_versions_frame_and_drop(om, iris) -> None:
    X, y = iris
    om.models.put(LogisticRegression(max_iter=300).fit(X, y), "m")
    om.models.put(LogisticRegression(max_iter=300).fit(X, y), "m", tag="best")
    frame = om.models.versions("m")
    assert list(frame.columns) == ["version", "created", "tags", "size", "format", "lineage"]
    assert frame["version"].tolist() == [1, 2] and (frame["size"] > 0).all()
    assert om.models.drop("m", version=1)
    assert om.models.versions("m")["version"].tolist() == [2]
    assert om.models.drop("m")
    assert not om.models.drop("m", force=True)
    with pytest.raises(ObjectNotFoundError):
        om.models.drop("m")
    with pytest.raises(ObjectNotFoundError):
        om.models.versions("m")


def test_forest_round_trips_with_skops(om, iris) -> None:
    X, y = iris
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    om.models.put(forest, "forest")
    np.testing.assert_array_equal(om.models.get("forest").predict(X), forest.predict(X))


def test_objects_skops_cannot_trust_need_joblib(om) -> None:
    with pytest.raises(UnsupportedObjectError, match="serializer='joblib'"):
        om.models.put(Opaque(), "opaque")
    assert not om.models.exists("opaque")
    meta = om.models.put(Opaque(3), "opaque", serializer="joblib")
    assert meta.kind_meta["format"] == "joblib" and "joblib" in meta.kind_meta["versions"]
    with pytest.raises(UntrustedModelError, match="OMEGA_TRUST_PICKLE=1"):
        om.models.get("opaque")
    trusting = omega_jupyter.Omega(om.settings.replace(trust_pickle=True))
    assert trusting.models.get("opaque").value == 3
    with pytest.raises(UnsupportedObjectError, match="unknown serializer"):
        om.models.put(Opaque(), "opaque", serializer="pickle")


def test_trust_pickle_from_environment(om, monkeypatch: pytest.MonkeyPatch) -> None:
    om.models.put(Opaque(5), "opaque", serializer="joblib")
    monkeypatch.setenv("OMEGA_TRUST_PICKLE", "1")
    env_client = omega_jupyter.setup(
        url=om.settings.resolved_database_url, bucket=om.bucket, home=str(om.settings.home)
    )
    assert env_client.models.get("opaque").value == 5


def test_tampered_bytes_are_refused(om, iris) -> None:
    X, y = iris
    meta = om.models.put(LogisticRegression(max_iter=300).fit(X, y), "m")
    with om.db.begin() as conn:
        conn.execute(
            sa.update(blob_chunks)
            .where(blob_chunks.c.blob_id == meta.location)
            .values(data=b"PK\x03\x04 not the model")
        )
    with pytest.raises(UntrustedModelError, match="sha256"):
        om.models.get("m")


def test_other_library_versions_warn(om, iris) -> None:
    X, y = iris
    meta = om.models.put(LogisticRegression(max_iter=300).fit(X, y), "m")
    versions = dict(meta.kind_meta["versions"], sklearn="0.0.1")
    with om.db.begin() as conn:
        conn.execute(
            sa.update(objects)
            .where(objects.c.id == meta.id)
            .values(kind_meta=dict(meta.kind_meta, versions=versions))
        )
    with pytest.warns(ModelVersionWarning, match=r"sklearn 0\.0\.1 -> "):
        om.models.get("m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        om.models.put(LogisticRegression(), "fresh")
        om.models.get("fresh")


def test_bad_names(om) -> None:
    with pytest.raises(ObjectNotFoundError, match="model 'missing' does not exist"):
        om.models.get("missing")
    with pytest.raises(InvalidNameError):
        om.models.put(LogisticRegression(), "bad@name")
    with pytest.raises(InvalidNameError, match="datasets, not models"):
        om.models.get("m[a,b]")
    assert om.models.list() == []


def test_one_cache_of_loaded_models_for_workers_and_the_server(om, iris) -> None:
    X, y = iris
    meta = om.models.put(LogisticRegression(max_iter=500).fit(X, y), "shared")
    worker_copy = om.models.load(meta, cached=True)  # what a worker's predict task loads
    server = ModelCache(ttl=60)
    assert server.resolve(om.models, "shared").version == meta.version
    assert server.cached_model(om.models, meta) is worker_copy
    assert server.load(om.models, meta) is worker_copy
    assert om.models.load(meta) is not worker_copy  # uncached: a copy of its own (for fits)
    server.forget(om.models, "shared@1")  # any reference forgets the name and its versions
    assert server.cached_meta(om.models, "shared") is None
    assert LOADED.peek(om.models, meta) is None


def test_apply_checks_the_signature_and_names_plain_arrays(om, iris) -> None:
    X, y = iris
    signature = {"columns": [str(c) for c in X.columns]}
    meta = om.models.put(LogisticRegression(max_iter=500).fit(X, y), "sig", signature=signature)
    model = om.models.load(meta)
    reordered = X[list(reversed(X.columns))]
    expected = model.predict(X)
    assert (apply(model, meta, "predict", reordered) == expected).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        assert (apply(model, meta, "predict", X.to_numpy()) == expected).all()
    assert apply(model, meta, "score", X, y.to_frame()) == model.score(X, y)
    with pytest.raises(SignatureMismatchError, match="lacks column"):
        apply(model, meta, "predict", X.iloc[:, :2])
    with pytest.raises(SignatureMismatchError, match="fitted on 4"):
        apply(model, meta, "predict", X.to_numpy()[:, :3])
    with pytest.raises(ModelMethodError, match="has no method 'fly'"):
        apply(model, meta, "fly", X)


def test_describe_names_the_version_and_lists_every_version(om, iris) -> None:
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    om.models.put(model, "described", tag="prod")
    om.models.put(model, "described")
    shown = om.models.describe("described@prod")
    assert (shown["name"], shown["version"], shown["tags"]) == ("described", 1, ["prod"])
    assert shown["class"].endswith("LogisticRegression") and shown["format"] == "skops"
    assert [(v["version"], v["tags"]) for v in shown["versions"]] == [(1, ["prod"]), (2, [])]
    assert om.models.describe("described")["version"] == 2
