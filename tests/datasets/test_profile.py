"""``om.datasets.profile``: statistics computed in the database agree with pandas on the whole
dataset, on SQLite and PostgreSQL, for awkward column names, all-null and empty columns."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest

import omega_jupyter
from omega_jupyter.exceptions import (
    InvalidNameError,
    ObjectNotFoundError,
    PermissionDeniedError,
    UnknownColumnError,
    UnsupportedObjectError,
)
from omega_jupyter.storage import credentials

QUOTE = 'we"ird'
SPACE = "with space"
APOSTROPHE = "it's; DROP TABLE x --"


def awkward_frame(rows: int = 997) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    price = rng.random(rows) * 100
    price[::10] = np.nan
    return pd.DataFrame(
        {
            "n": rng.integers(-50, 50, rows),
            QUOTE: price,
            SPACE: pd.Series(rng.choice(["red", "green", "blue", "grey"], rows), dtype="str"),
            APOSTROPHE: pd.Categorical(rng.choice(["a", "b", "c"], rows)),
            "flag": rng.random(rows) < 0.3,
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, rows), "s"),
            "nothing": np.full(rows, np.nan),
            "unique": pd.Series([f"id{i}" for i in range(rows)], dtype="str"),
        }
    )


def test_statistics_agree_with_pandas_over_every_row(om) -> None:
    df = awkward_frame()
    om.datasets.put(df, "awk")
    prof = om.datasets.profile("awk")
    assert (prof.name, prof.version, prof.rows) == ("awk", 1, len(df))
    assert [c.name for c in prof.columns] == list(df.columns)
    for label in df.columns:
        col, values = prof[label], df[label]
        assert col.count == values.count(), label
        assert col.nulls == values.isna().sum(), label
        assert col.distinct == values.nunique(), label
    for label in ("n", QUOTE):
        col, values = prof[label], df[label]
        assert col.kind == "numeric"
        assert col.mean == pytest.approx(values.mean())
        assert col.std == pytest.approx(values.std())
        assert (col.min, col.max) == (pytest.approx(values.min()), pytest.approx(values.max()))
    counts, edges = np.histogram(df[QUOTE].dropna(), bins=20)
    hist = prof[QUOTE].histogram
    assert [b["count"] for b in hist] == counts.tolist()
    assert [b["start"] for b in hist] == pytest.approx(edges[:-1].tolist())
    assert hist[-1]["end"] == pytest.approx(edges[-1])
    for label in (SPACE, APOSTROPHE):
        expected = df[label].astype(str).value_counts()
        assert [(t["value"], t["count"]) for t in prof[label].top] == list(expected.items())
    assert prof["flag"].kind == "boolean"
    assert prof["flag"].mean == pytest.approx(df["flag"].mean())
    assert {t["value"]: t["count"] for t in prof["flag"].top} == df["flag"].value_counts().to_dict()
    assert prof["when"].kind == "datetime"
    assert prof["when"].min == df["when"].min().isoformat()
    assert prof["when"].max == df["when"].max().isoformat()
    # all-null: counted, nothing to draw
    nothing = prof["nothing"]
    assert (nothing.count, nothing.nulls, nothing.distinct) == (0, len(df), 0)
    assert nothing.mean is None and nothing.histogram == [] and nothing.vega_lite() is None
    # every value distinct: no top values to rank
    assert prof["unique"].distinct == len(df) and prof["unique"].top == []


def test_bins_top_versions_and_modifiers(om) -> None:
    df = awkward_frame(200)
    om.datasets.put(df, "v")
    prof = om.datasets.profile("v@1", bins=5, top=2)
    om.datasets.put(df.head(10), "v")
    assert om.datasets.profile("v").rows == 10
    assert om.datasets.profile("v", version=2).rows == 10
    assert len(prof[QUOTE].histogram) == 5 and len(prof[SPACE].top) == 2
    assert sum(b["count"] for b in prof[QUOTE].histogram) == df[QUOTE].count()
    assert [c.name for c in om.datasets.profile("v[n,flag]").columns] == ["n", "flag"]


def test_empty_dataset_series_and_constant_column(om) -> None:
    om.datasets.put(awkward_frame().iloc[:0], "empty")
    prof = om.datasets.profile("empty")
    assert prof.rows == 0
    assert all((c.count, c.nulls, c.distinct) == (0, 0, 0) for c in prof.columns)
    assert all(c.histogram == [] and c.top == [] for c in prof.columns)
    assert prof.to_frame().shape == (11, len(prof.columns))
    om.datasets.put(pd.Series([3.0, 3.0, None], name="s"), "series")
    col = om.datasets.profile("series").columns[0]
    assert (col.name, col.count, col.nulls, col.distinct) == ("s", 2, 1, 1)
    assert col.histogram == [{"start": 3.0, "end": 3.0, "count": 2}]
    om.datasets.put(pd.DataFrame({"x": [np.inf, 1.0, -np.inf]}), "inf")
    col = om.datasets.profile("inf")["x"]
    assert col.histogram == [] and col.max == np.inf
    assert json.loads(json.dumps(om.datasets.profile("inf").to_dict()))["columns"][0]["max"] is None


def test_other_dtypes(om) -> None:
    df = pd.DataFrame(
        {
            "u64": np.array([1, 2**63 + 5, 2**64 - 1], dtype="uint64"),
            "i64n": pd.array([1, None, 3], dtype="Int64"),
            "f32": np.array([1.5, np.nan, 2.5], dtype="float32"),
            "bn": pd.array([True, None, True], dtype="boolean"),
            "td": pd.to_timedelta([1, None, 4], "s"),
            "obj": [{"a": 1}, None, {"a": 1}],
            "s": pd.Series(["a", None, "a"], dtype="string"),
            "tz": pd.to_datetime(["2020-01-01", None, "2021-06-01"]).tz_localize("Europe/Zurich"),
            1: [1, 2, 3],
        }
    )
    om.datasets.put(df, "dtypes")
    prof = om.datasets.profile("dtypes")
    for label in df.columns:
        assert prof[label].count == df[label].count(), label
        assert prof[label].distinct == df[label].astype(str).where(df[label].notna()).nunique()
    u64 = prof["u64"]
    assert (u64.min, u64.max) == (1.0, float(2**64 - 1))
    assert u64.mean == pytest.approx(df["u64"].astype(float).mean())
    assert sum(b["count"] for b in u64.histogram) == 3
    assert prof["i64n"].mean == 2 and prof["f32"].mean == 2
    assert prof["bn"].top == [{"value": True, "count": 2}]
    assert (prof["td"].min, prof["td"].max) == ("P0DT0H0M1S", "P0DT0H0M4S")
    assert prof["tz"].max == "2021-06-01T00:00:00+02:00"
    assert prof["s"].top == [{"value": "a", "count": 2}] and prof[1].mean == 2


def test_frame_dict_and_vega_lite(om) -> None:
    om.datasets.put(awkward_frame(100), "out")
    prof = om.datasets.profile("out")
    frame = prof.to_frame()
    assert list(frame.columns) == list(awkward_frame(1).columns)
    assert frame.loc["count", "n"] == 100 and frame.loc["top", SPACE] == prof[SPACE].top[0]["value"]
    data = json.loads(json.dumps(prof.to_dict()))
    assert data["rows"] == 100 and data["columns"][1]["name"] == QUOTE
    hist = prof.vega_lite(QUOTE)
    assert hist["mark"]["type"] == "bar" and hist["encoding"]["x"]["bin"] == {"binned": True}
    assert hist["data"]["values"] == prof[QUOTE].histogram
    bars = prof.vega_lite(SPACE)
    assert bars["encoding"]["y"]["field"] == "value" and len(bars["data"]["values"]) == 4
    combined = prof.vega_lite_all()
    assert len(combined["concat"]) == 5  # n, price, colour, category, flag: drawable ones
    assert "Profile of 'out'" in repr(prof) and "with space" in repr(prof)
    rows = prof.summary_rows()
    assert rows[0]["column"] == "n" and rows[2]["top"].count("(") == 3


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("missing", ObjectNotFoundError),
        ("missing@2", ObjectNotFoundError),
        ("", InvalidNameError),
        ("a[b", InvalidNameError),
        ("a" * 300, InvalidNameError),
    ],
)
def test_bad_names_are_clear_errors(om, name, error) -> None:
    with pytest.raises(error):
        om.datasets.profile(name)


def test_other_kinds_and_bad_options_are_refused(om) -> None:
    om.datasets.put({"a": 1}, "pydata")
    with pytest.raises(UnsupportedObjectError, match="only DataFrames and Series"):
        om.datasets.profile("pydata")
    om.datasets.put(pd.DataFrame({"a": [1]}), "ok")
    for bad in ({"bins": 0}, {"bins": 201}, {"top": 0}, {"top": 1.5}, {"bins": True}):
        with pytest.raises(ValueError, match="must be a whole number"):
            om.datasets.profile("ok", **bad)
    with pytest.raises(UnknownColumnError, match="zz"):
        om.datasets.profile("ok[zz]")


def test_a_bucket_credential_profiles_its_own_data_only(postgres_url) -> None:
    service = omega_jupyter.setup(url=postgres_url, bucket=f"a{uuid.uuid4().hex[:8]}")
    other = service[f"b{uuid.uuid4().hex[:8]}"]
    service.datasets.put(pd.DataFrame({"x": [1, 2, 3]}), "mine")
    other.datasets.put(pd.DataFrame({"secret": [7]}), "theirs")
    url = credentials.bucket_credentials(service.db, service.bucket, ttl=600)
    tenant = omega_jupyter.setup(url=url, bucket=service.bucket)
    try:
        assert tenant.datasets.profile("mine")["x"].mean == 2
        with pytest.raises(ObjectNotFoundError):
            tenant.datasets.profile("theirs")
        with pytest.raises(PermissionDeniedError):
            tenant[other.bucket].datasets.profile("theirs")
    finally:
        tenant.db.dispose()
