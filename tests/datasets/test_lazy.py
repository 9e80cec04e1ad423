"""Lazy frames: the seed query, accessors, persist, streaming, dask and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omega_jupyter.datasets.lazy import LazyFrame
from omega_jupyter.exceptions import InvalidFilterError, UnknownColumnError


@pytest.fixture
def city(om) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "city": ["New York", "Paris", "New York", None, "New York"],
            "borough": ["Bronx", "1er", "Queens", "x", "Bronx"],
            "pop": [10, 20, 30, 40, 50],
            "t": pd.to_datetime(
                [
                    "2020-01-01 00:00",
                    "2021-06-03 10:30",
                    None,
                    "1969-12-31 23:59",
                    "2024-02-29 12:00",
                ]
            ),
            "tz": pd.date_range("2021-03-27 22:00", periods=5, freq="7h", tz="Europe/Zurich"),
        }
    )
    om.datasets.put(df, "largedata")
    return df


def test_seed_query(om, city):
    mdf = om.datasets.getl("largedata")
    assert isinstance(mdf, LazyFrame)
    got = mdf[mdf["city"] == "New York"].groupby("borough").count()
    want = city[city["city"] == "New York"].groupby("borough").count()
    pd.testing.assert_frame_equal(got.value, want)
    assert "GROUP BY" in got.sql
    assert isinstance(om.datasets.get("largedata", lazy=True, pop__gt=15), LazyFrame)
    assert len(om.datasets.get("largedata", lazy=True, pop__gt=15)) == 4


def test_metadata_without_rows(om, city):
    mdf = om.datasets.getl("largedata")
    assert list(mdf.columns) == list(city.columns)
    assert mdf.dtypes.to_dict() == city.dtypes.to_dict()
    assert mdf.shape == city.shape and len(mdf) == 5


def test_accessors(om, city):
    mdf = om.datasets.getl("largedata")
    for part in ("year", "month", "day", "hour", "day_of_week"):
        pd.testing.assert_series_equal(getattr(mdf.t.dt, part).value, getattr(city.t.dt, part))
    if om.db.is_postgres:  # time zones other than UTC need PostgreSQL's tz database
        pd.testing.assert_series_equal(mdf.tz.dt.hour.value, city.tz.dt.hour)
    s = city.city
    for got, want in [
        (mdf.city.str.contains("York"), s.str.contains("York")),
        (mdf.city.str.startswith("Par"), s.str.startswith("Par")),
        (mdf.city.str.endswith("ork"), s.str.endswith("ork")),
        (mdf.city.str.upper(), s.str.upper()),
        (mdf.city.str.len(), s.str.len()),
        (mdf.city.isnull(), s.isnull()),
        (mdf["pop"].between(20, 40), city["pop"].between(20, 40)),
        (mdf["pop"].isin([10, 50]), city["pop"].isin([10, 50])),
        (mdf["pop"] * 2 - 1, city["pop"] * 2 - 1),
        (mdf["pop"] / 4, city["pop"] / 4),
    ]:
        pd.testing.assert_series_equal(got.value, want)
    ts = pd.Timestamp("2021-01-01")
    pd.testing.assert_frame_equal(mdf[mdf.t > ts].value, city[city.t > ts])


def test_positions_loc_and_chunks(om, city):
    mdf = om.datasets.getl("largedata")
    pd.testing.assert_frame_equal(mdf.iloc[1:3].value, city.iloc[1:3])
    pd.testing.assert_frame_equal(mdf.iloc[-2:].value, city.iloc[-2:])
    pd.testing.assert_series_equal(mdf.iloc[2], city.iloc[2])
    pd.testing.assert_frame_equal(mdf.loc[1:3].value, city.loc[1:3])
    pd.testing.assert_series_equal(mdf.loc[2], city.loc[2])
    chunks = list(mdf.sort_values("pop", ascending=False).iterchunks(2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    pd.testing.assert_frame_equal(pd.concat(chunks), city.sort_values("pop", ascending=False))
    np.testing.assert_array_equal(np.asarray(mdf[["pop"]]), city[["pop"]].to_numpy())
    om.datasets.put(city.set_index("borough"), "indexed")
    idx = om.datasets.getl("indexed")
    pd.testing.assert_frame_equal(
        idx.loc[["Bronx"]].value, city.set_index("borough").loc[["Bronx"]]
    )


def test_describe_and_agg(om, city):
    mdf = om.datasets.getl("largedata")
    pd.testing.assert_frame_equal(mdf[["pop"]].describe(), city[["pop"]].describe())
    got = mdf.groupby("city").agg({"pop": ["sum", "mean"], "borough": "nunique"}).value
    want = city.groupby("city").agg({"pop": ["sum", "mean"], "borough": "nunique"})
    pd.testing.assert_frame_equal(got, want)


def test_persist_round_trip(om, city):
    mdf = om.datasets.getl("largedata")
    result = mdf[mdf["pop"] > 10].assign(double=mdf["pop"] * 2).sort_values("pop", ascending=False)
    meta = result.persist("big_ones")
    assert meta.kind_meta["rows"] == 4
    expected = city[city["pop"] > 10].assign(double=city["pop"] * 2)
    expected = expected.sort_values("pop", ascending=False)
    pd.testing.assert_frame_equal(om.datasets.get("big_ones"), expected)
    grouped = mdf.groupby("city")["pop"].sum().to_frame()
    grouped.persist("by_city")
    pd.testing.assert_frame_equal(
        om.datasets.get("by_city"), city.groupby("city")["pop"].sum().to_frame()
    )
    years = mdf.assign(year=mdf.t.dt.year)[["year"]]
    years.persist("years")
    pd.testing.assert_frame_equal(
        om.datasets.get("years"), city.assign(year=city.t.dt.year)[["year"]]
    )


def test_to_csv_and_dask(om, city, tmp_path):
    mdf = om.datasets.getl("largedata")
    n = om.datasets.to_csv("largedata", tmp_path / "out.csv.gz", chunksize=2)
    assert n == 5
    back = pd.read_csv(tmp_path / "out.csv.gz")
    assert back["pop"].tolist() == city["pop"].tolist()
    ddf = mdf[mdf["pop"] > 10][["city", "pop"]].to_dask(npartitions=2)
    assert ddf.npartitions == 2
    pd.testing.assert_frame_equal(
        ddf.compute(scheduler="sync"), city[city["pop"] > 10][["city", "pop"]]
    )


def test_bad_input(om, city, bucket):
    mdf = om.datasets.getl("largedata")
    with pytest.raises(UnknownColumnError, match="nope"):
        mdf[mdf["nope"] > 1]
    with pytest.raises(UnknownColumnError, match="nope"):
        mdf.groupby("nope")
    with pytest.raises(InvalidFilterError, match="pop"):
        mdf[mdf["pop"] == "ten"]
    with pytest.raises(InvalidFilterError):
        mdf[mdf["pop"] == mdf["city"]]
    with pytest.raises(NotImplementedError, match=r"\.value"):
        mdf.pivot_table()
    with pytest.raises(NotImplementedError, match=r"\.value"):
        mdf["pop"] % 2
    with pytest.raises(TypeError):
        mdf["x"] = 1
    other = om[f"{bucket}o"]
    other.datasets.put(city, "largedata")
    with pytest.raises(InvalidFilterError, match="same store"):
        mdf.merge(other.datasets.getl("largedata"), on="pop")
    assert om.datasets.list() == ["largedata"]


def test_dask_partitions_of_a_stored_version_are_row_ranges(om, bucket):
    df = pd.DataFrame(
        {"x": np.arange(1003, dtype="float64"), "s": pd.Series([f"v{i}" for i in range(1003)])},
        index=pd.RangeIndex(5, 5 + 3 * 1003, 3, name="k"),
    )
    om.datasets.put(df, "ranges")
    ddf = om.datasets.get("ranges", dask=3)
    assert ddf.npartitions == 3
    parts = [p.compute(scheduler="sync") for p in ddf.to_delayed()]
    sizes = [len(p) for p in parts]
    # balanced: equal row ranges (SQLite), equal page ranges (PostgreSQL, the last one shorter)
    assert sum(sizes) == 1003 and max(sizes) - min(sizes) <= 250, sizes
    pd.testing.assert_frame_equal(pd.concat(parts), df)
    pd.testing.assert_frame_equal(ddf.compute(scheduler="sync"), df)
    lazy = om.datasets.getl("ranges").to_dask(npartitions=2)
    pd.testing.assert_frame_equal(lazy.compute(scheduler="sync"), df)
    picked = om.datasets.get("ranges", dask=True, columns=["x"], x__lt=10)
    pd.testing.assert_frame_equal(picked.compute(scheduler="sync"), df[["x"]][df["x"] < 10])
