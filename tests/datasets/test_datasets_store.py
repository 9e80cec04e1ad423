"""The dataset store: versions, append, attributes, filters, name modifiers and metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import (
    InvalidFilterError,
    InvalidNameError,
    ObjectNotFoundError,
    SchemaMismatchError,
    UnknownColumnError,
)
from omega_jupyter.storage.schema import objects


def table_exists(om: Omega, table: str) -> bool:
    """Whether the physical data table exists, asked of the database itself."""
    return sa.inspect(om.db.engine).has_table(table, schema=om.db.data_schema(om.bucket))


def frame(start: int = 0, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(start, start + n), "s": [f"r{i}" for i in range(n)]})


# -- replace and versions ----------------------------------------------------------------------
def test_put_replaces_and_drops_the_old_table(om):
    first = om.datasets.put(frame(0), "data")
    second = om.datasets.put(frame(10, 2), "data")
    assert (first.version, second.version) == (1, 2)
    pd.testing.assert_frame_equal(om.datasets.get("data"), frame(10, 2))
    assert om.datasets.versions("data")["version"].tolist() == [2]
    assert not table_exists(om, first.location)
    assert table_exists(om, second.location)
    with pytest.raises(ObjectNotFoundError, match="version 1"):
        om.datasets.get("data@1")


def test_kept_versions_are_readable(om):
    om3 = Omega(om.settings.replace(dataset_versions=3))
    metas = [om3.datasets.put(frame(i * 10), "data") for i in range(4)]
    versions = om3.datasets.versions("data")
    assert versions["version"].tolist() == [2, 3, 4]
    assert versions["rows"].tolist() == [3, 3, 3]
    assert not table_exists(om3, metas[0].location)
    for meta in metas[1:]:
        assert table_exists(om3, meta.location)
    pd.testing.assert_frame_equal(om3.datasets.get("data@2"), frame(10))
    pd.testing.assert_frame_equal(om3.datasets.get("data", version=3), frame(20))
    pd.testing.assert_frame_equal(om3.datasets.get("data^"), frame(20))
    pd.testing.assert_frame_equal(om3.datasets.get("data"), frame(30))
    assert om3.datasets.metadata("data@2").version == 2


def test_versions_of_missing_dataset(om):
    with pytest.raises(ObjectNotFoundError):
        om.datasets.versions("missing")


def test_put_of_other_kind_replaces_a_frame(om):
    meta = om.datasets.put(frame(), "data")
    om.datasets.put({"now": "a dict"}, "data")
    assert om.datasets.get("data") == {"now": "a dict"}
    assert not table_exists(om, meta.location)


# -- append ------------------------------------------------------------------------------------
def test_append_adds_rows_in_order(om):
    om.datasets.put(frame(0, 3), "data")
    meta = om.datasets.put(frame(3, 2), "data", append=True)
    om.datasets.put(frame(5, 4), "data", append=True)
    expected = pd.concat([frame(0, 3), frame(3, 2), frame(5, 4)], ignore_index=True)
    pd.testing.assert_frame_equal(om.datasets.get("data"), expected)
    assert om.datasets.metadata("data").kind_meta["rows"] == 9
    assert meta.version == 1  # appending does not make a new version


def test_append_keeps_explicit_index_and_row_order(om):
    a = pd.DataFrame({"v": [1.5, 2.5]}, index=pd.Index(["z", "a"], name="k"))
    b = pd.DataFrame({"v": [3.5, 4.5]}, index=pd.Index(["m", "b"], name="k"))
    om.datasets.put(a, "data")
    om.datasets.put(b, "data", append=True)
    pd.testing.assert_frame_equal(om.datasets.get("data"), pd.concat([a, b]))


def test_append_to_missing_creates(om):
    om.datasets.put(frame(), "data", append=True)
    pd.testing.assert_frame_equal(om.datasets.get("data"), frame())


def test_append_to_range_index_continues_labels(om):
    om.datasets.put(frame(0, 2), "data")
    om.datasets.put(frame(2, 2), "data", append=True)
    out = om.datasets.get("data")
    assert out.index.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "other",
    [
        pd.DataFrame({"x": [1], "t": ["renamed"]}),
        pd.DataFrame({"x": [1.5], "s": ["float x"]}),
        pd.DataFrame({"s": ["reordered"], "x": [1]}),
        pd.DataFrame({"x": [1], "s": ["extra"], "y": [2]}),
        pd.DataFrame({"x": [1], "s": ["index"]}, index=pd.Index(["a"])),
    ],
    ids=["renamed", "dtype", "order", "extra", "index"],
)
def test_append_schema_mismatch_changes_nothing(om, other):
    om.datasets.put(frame(), "data")
    before = om.datasets.metadata("data")
    with pytest.raises(SchemaMismatchError, match="nothing was written"):
        om.datasets.put(other, "data", append=True)
    pd.testing.assert_frame_equal(om.datasets.get("data"), frame())
    after = om.datasets.metadata("data")
    assert (after.version, after.kind_meta, after.modified) == (
        before.version,
        before.kind_meta,
        before.modified,
    )
    assert leftover_tables(om) == {before.location}


def test_append_category_with_other_categories_is_refused(om):
    om.datasets.put(pd.DataFrame({"c": pd.Categorical(["a"], categories=["a", "b"])}), "data")
    with pytest.raises(SchemaMismatchError):
        om.datasets.put(
            pd.DataFrame({"c": pd.Categorical(["c"], categories=["c"])}), "data", append=True
        )


def test_append_to_non_frame_is_refused(om):
    om.datasets.put([1, 2], "data")
    with pytest.raises(SchemaMismatchError):
        om.datasets.put(frame(), "data", append=True)
    assert om.datasets.get("data") == [1, 2]


def leftover_tables(om: Omega) -> set[str]:
    """This bucket's data tables as the database lists them (staging tables must not survive)."""
    names = sa.inspect(om.db.engine).get_table_names(schema=om.db.data_schema(om.bucket))
    tables = {n for n in names if n.startswith("t_")}
    if om.db.is_postgres:
        return tables  # the bucket's own schema
    with om.db.connect() as conn:  # SQLite: one namespace, leave out other buckets' tables
        others = conn.scalars(sa.select(objects.c.location).where(objects.c.bucket != om.bucket))
        return tables - set(others)


# -- attributes --------------------------------------------------------------------------------
def test_attributes_merge_on_put_and_reset_with_empty_dict(om):
    om.datasets.put(frame(), "data", attributes={"owner": "ana", "tags": ["x"]})
    assert om.datasets.metadata("data").attributes == {"owner": "ana", "tags": ["x"]}
    om.datasets.put(frame(), "data", attributes={"source": "crm"})
    assert om.datasets.metadata("data").attributes == {"owner": "ana", "source": "crm"}
    om.datasets.put(frame(), "data")
    assert om.datasets.metadata("data").attributes == {"owner": "ana", "source": "crm"}
    om.datasets.put(frame(), "data", append=True, attributes={"owner": "bo"})
    assert om.datasets.metadata("data").attributes == {"owner": "bo", "source": "crm"}
    om.datasets.put(frame(), "data", attributes={})
    assert om.datasets.metadata("data").attributes == {}


@pytest.mark.parametrize("via", ["put", "read_csv"])
def test_append_follows_the_attribute_rule_of_every_write(om, tmp_path, via):
    """None keeps the attributes, a dict merges into them, {} resets them: on append too,
    whether the rows come from put or from read_csv."""
    path = tmp_path / "more.csv"
    frame().to_csv(path, index=False)

    def append(**attributes) -> None:
        if via == "put":
            om.datasets.put(frame(), "data", append=True, **attributes)
        else:
            om.datasets.read_csv(path, "data", append=True, **attributes)

    om.datasets.put(frame(), "data", attributes={"owner": "ana", "source": "crm"})
    append()
    assert om.datasets.metadata("data").attributes == {"owner": "ana", "source": "crm"}
    append(attributes=None)
    assert om.datasets.metadata("data").attributes == {"owner": "ana", "source": "crm"}
    append(attributes={"owner": "bo"})
    assert om.datasets.metadata("data").attributes == {"owner": "bo", "source": "crm"}
    append(attributes={})
    meta = om.datasets.metadata("data")
    assert (meta.attributes, meta.version, meta.kind_meta["rows"]) == ({}, 1, 15)
    assert len(om.datasets.get("data")) == 15


def test_read_csv_refuses_bad_attributes_before_reading(om, tmp_path):
    path = tmp_path / "data.csv"
    frame().to_csv(path, index=False)
    om.datasets.read_csv(path, "data", attributes={"keep": 1})
    with pytest.raises(TypeError, match="attributes"):
        om.datasets.read_csv(path, "data", append=True, attributes={"k": object()})
    meta = om.datasets.metadata("data")
    assert (meta.attributes, meta.kind_meta["rows"]) == ({"keep": 1}, 3)


@pytest.mark.parametrize("bad", [["not", "a", "dict"], {"k": object()}, {"k": float("nan")}])
def test_bad_attributes_change_nothing(om, bad):
    om.datasets.put(frame(), "data", attributes={"keep": 1})
    with pytest.raises(TypeError, match="attributes"):
        om.datasets.put(frame(5), "data", attributes=bad)
    assert om.datasets.metadata("data").attributes == {"keep": 1}
    pd.testing.assert_frame_equal(om.datasets.get("data"), frame())


# -- filters -----------------------------------------------------------------------------------
@pytest.fixture
def sample() -> pd.DataFrame:
    ordered = pd.CategoricalDtype(["low", "mid", "high"], ordered=True)
    return pd.DataFrame(
        {
            "i": pd.array([5, -3, 0, 12, 7, 5], dtype="int32"),
            "f": [1.5, np.nan, -2.0, 10.0, 0.0, 3.25],
            "s": ["Apple", "apple", None, "a%b", "a_b", "Banana"],
            "c": pd.Series(["high", "low", None, "mid", "low", "high"], dtype=ordered),
            "u": pd.Categorical(["x", "y", "x", None, "z", "y"]),
            "d": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-02 00:00:00.000000001",
                    None,
                    "2023-12-31",
                    "2024-06-01",
                    "2024-01-01 12:00",
                ],
                format="ISO8601",
            ),
            "z": pd.to_datetime(
                [
                    "2024-01-01 00:00",
                    "2024-01-01 01:00",
                    "2024-01-01 02:00",
                    None,
                    "2024-01-02 00:00",
                    "2023-12-31 23:00",
                ],
                format="ISO8601",
            ).tz_localize("Europe/Zurich"),
            "b": [True, False, True, True, False, False],
            "n": pd.array([1, None, 3, None, 5, 1], dtype="Int64"),
            "t": pd.to_timedelta(["1h", "2h", None, "0s", "30min", "1D"]),
        },
        index=pd.RangeIndex(100, 700, 100, name="row"),
    )


_ZURICH = pd.Timestamp("2024-01-01 01:00", tz="Europe/Zurich")
_JAN1, _JAN2 = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")
FILTER_CASES = [
    ("i", "eq", 5, lambda d: d.i == 5),
    ("i", "ne", 5, lambda d: d.i != 5),
    ("i", "lt", 5, lambda d: d.i < 5),
    ("i", "lte", 5, lambda d: d.i <= 5),
    ("i", "gt", 5, lambda d: d.i > 5),
    ("i", "gte", 5, lambda d: d.i >= 5),
    ("i", "in", [5, 12, 99], lambda d: d.i.isin([5, 12, 99])),
    ("i", "nin", [5, 12], lambda d: ~d.i.isin([5, 12])),
    ("i", "between", (0, 7), lambda d: d.i.between(0, 7)),
    ("f", "gt", 0.5, lambda d: d.f > 0.5),
    ("f", "ne", 1.5, lambda d: d.f != 1.5),
    ("f", "isnull", True, lambda d: d.f.isna()),
    ("f", "isnull", False, lambda d: d.f.notna()),
    ("s", "eq", "apple", lambda d: d.s == "apple"),
    ("s", "ne", "apple", lambda d: d.s != "apple"),
    ("s", "lt", "a", lambda d: d.s.lt("a").fillna(False).astype(bool)),
    ("s", "gte", "a", lambda d: d.s.ge("a").fillna(False).astype(bool)),
    ("s", "in", ["apple", None], lambda d: d.s.isin(["apple"]) | d.s.isna()),
    ("s", "nin", ["apple", None], lambda d: ~(d.s.isin(["apple"]) | d.s.isna())),
    ("s", "contains", "a", lambda d: d.s.str.contains("a", regex=False).fillna(False)),
    ("s", "contains", "%", lambda d: d.s.str.contains("%", regex=False).fillna(False)),
    ("s", "contains", "_", lambda d: d.s.str.contains("_", regex=False).fillna(False)),
    ("s", "contains", "", lambda d: d.s.notna()),
    ("s", "startswith", "A", lambda d: d.s.str.startswith("A").fillna(False)),
    ("s", "startswith", "a%", lambda d: d.s.str.startswith("a%").fillna(False)),
    ("s", "endswith", "na", lambda d: d.s.str.endswith("na").fillna(False)),
    ("s", "endswith", "_b", lambda d: d.s.str.endswith("_b").fillna(False)),
    ("s", "isnull", True, lambda d: d.s.isna()),
    ("c", "eq", "low", lambda d: d.c == "low"),
    ("c", "ne", "low", lambda d: d.c != "low"),
    ("c", "lt", "high", lambda d: d.c < "high"),
    ("c", "gte", "mid", lambda d: d.c >= "mid"),
    ("c", "between", ("low", "mid"), lambda d: (d.c >= "low") & (d.c <= "mid")),
    ("c", "in", ["mid", "high"], lambda d: d.c.isin(["mid", "high"])),
    ("c", "isnull", True, lambda d: d.c.isna()),
    ("u", "eq", "y", lambda d: d.u == "y"),
    ("u", "nin", ["y"], lambda d: ~d.u.isin(["y"])),
    ("d", "eq", "2024-01-01", lambda d: d.d == pd.Timestamp("2024-01-01")),
    ("d", "gt", pd.Timestamp("2024-01-02"), lambda d: d.d > pd.Timestamp("2024-01-02")),
    ("d", "gte", "2024-01-02", lambda d: d.d >= pd.Timestamp("2024-01-02")),
    ("d", "between", ("2024-01-01", "2024-01-02"), lambda d: d.d.between(_JAN1, _JAN2)),
    ("d", "isnull", True, lambda d: d.d.isna()),
    ("z", "lt", _ZURICH, lambda d: d.z < _ZURICH),
    ("z", "gte", "2024-01-01 00:00:00+00:00", lambda d: d.z >= _JAN1.tz_localize("UTC")),
    ("z", "eq", "2024-01-01 01:00", lambda d: d.z == _ZURICH),  # naive value: the column's zone
    ("b", "eq", True, lambda d: d.b),
    ("b", "ne", True, lambda d: ~d.b),
    ("n", "eq", 1, lambda d: (d.n == 1).fillna(False).astype(bool)),
    ("n", "ne", 1, lambda d: ~(d.n == 1).fillna(False).astype(bool)),
    ("n", "isnull", True, lambda d: d.n.isna()),
    ("n", "gt", 1, lambda d: (d.n > 1).fillna(False).astype(bool)),
    ("t", "gt", "1h", lambda d: d.t > pd.Timedelta("1h")),
    ("t", "lte", pd.Timedelta("30min"), lambda d: d.t <= pd.Timedelta("30min")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("column", "op", "value", "expected"),
    FILTER_CASES,
    ids=[f"{c}__{op}={v!r}" for c, op, v, _ in FILTER_CASES],
)
def test_filters_match_pandas(om, sample, column, op, value, expected):
    om.datasets.put(sample, "sample")
    out = om.datasets.get("sample", **{f"{column}__{op}": value})
    pd.testing.assert_frame_equal(out, sample[expected(sample)], check_index_type=False)


def test_several_filters_and_a_bare_name(om, sample):
    om.datasets.put(sample, "sample")
    out = om.datasets.get("sample", i__gte=0, s="Apple", b=True)
    pd.testing.assert_frame_equal(out, sample.iloc[[0]], check_index_type=False)


def test_filter_on_named_index_level(om):
    df = pd.DataFrame({"v": [1, 2, 3]}, index=pd.Index(["a", "b", "c"], name="key"))
    om.datasets.put(df, "data")
    pd.testing.assert_frame_equal(om.datasets.get("data", key__in=["a", "c"]), df.iloc[[0, 2]])


def test_filter_on_unknown_column(om, sample):
    om.datasets.put(sample, "sample")
    with pytest.raises(UnknownColumnError, match="'nope'"):
        om.datasets.get("sample", nope__eq=1)
    with pytest.raises(KeyError):
        om.datasets.get("sample", **{"x'; DROP TABLE om_objects; --": 1})


@pytest.mark.parametrize(
    "filters",
    [
        {"i__eq": "five"},
        {"s__gt": 3},
        {"i__contains": "1"},
        {"s__in": "apple"},
        {"i__between": (1,)},
        {"f__isnull": "yes"},
        {"c__lt": "unknown"},
        {"d__eq": "not a date"},
        {"d__eq": pd.Timestamp("2024-01-01", tz="UTC")},
        {"b__eq": 1},
    ],
    ids=lambda f: next(iter(f)),
)
def test_bad_filter_values(om, sample, filters):
    om.datasets.put(sample, "sample")
    with pytest.raises(InvalidFilterError):
        om.datasets.get("sample", **filters)


@pytest.mark.parametrize(
    "value",
    ["x'; DROP TABLE om_objects; --", "' OR '1'='1", "%", "_", "\\", "a%' --", "$1", ":p"],
)
def test_injection_in_filter_values_matches_literally(om, value):
    df = pd.DataFrame({"s": ["plain", value, "other"], "t": ["a", "b", "c"]})
    om.datasets.put(df, "data")
    for op in ("eq", "contains", "startswith", "endswith"):
        out = om.datasets.get("data", **{f"s__{op}": value})
        assert out["s"].tolist() == [value], op
    assert om.datasets.get("data", s__in=[value])["t"].tolist() == ["b"]
    assert om.datasets.list() == ["data"]


def test_injection_in_names_and_column_names(om):
    evil = "x'; DROP TABLE om_objects; --"
    df = pd.DataFrame({evil: [1, 2], 'a"b': [3, 4]})
    om.datasets.put(df, evil)
    assert om.datasets.list() == [evil]
    pd.testing.assert_frame_equal(om.datasets.get(evil), df)
    pd.testing.assert_frame_equal(om.datasets.get(evil, **{f"{evil}__gt": 1}), df.iloc[[1]])
    pd.testing.assert_frame_equal(om.datasets.get(evil, columns=['a"b']), df[['a"b']])


# -- column selection and chunks ---------------------------------------------------------------
def test_name_modifiers_select_columns(om, sample):
    om.datasets.put(sample, "sample")
    pd.testing.assert_frame_equal(om.datasets.get("sample[s,i]"), sample[["s", "i"]])
    pd.testing.assert_frame_equal(om.datasets.get("sample[^s, c]"), sample.drop(columns=["s", "c"]))
    pd.testing.assert_frame_equal(om.datasets.get("sample", columns=["f"]), sample[["f"]])
    pd.testing.assert_frame_equal(om.datasets.get("sample[i,f]", columns=["f"]), sample[["f"]])
    out = om.datasets.get("sample[s]", i__gt=0)
    pd.testing.assert_frame_equal(out, sample.loc[sample.i > 0, ["s"]], check_index_type=False)


def test_column_selection_errors(om, sample):
    om.datasets.put(sample, "sample")
    with pytest.raises(UnknownColumnError):
        om.datasets.get("sample[nope]")
    with pytest.raises(UnknownColumnError):
        om.datasets.get("sample", columns=["nope"])
    with pytest.raises(UnknownColumnError):
        om.datasets.get("sample[^s]", columns=["s"])
    with pytest.raises(InvalidNameError):
        om.datasets.get("sample[]")


def test_integer_column_labels_in_modifiers(om):
    df = pd.DataFrame(np.arange(6).reshape(2, 3))
    om.datasets.put(df, "data")
    pd.testing.assert_frame_equal(om.datasets.get("data[0,2]"), df[[0, 2]])
    pd.testing.assert_frame_equal(om.datasets.get("data", columns=[1]), df[[1]])


@pytest.mark.parametrize("chunksize", [1, 7, 100, 1000])
def test_chunks_concatenate_to_the_whole(om, chunksize):
    n = 300
    df = pd.DataFrame(
        {"i": np.arange(n), "s": pd.Series(np.arange(n) % 3).astype(str)},
        index=pd.RangeIndex(5, 5 + 2 * n, 2),
    )
    om.datasets.put(df, "data")
    chunks = list(om.datasets.get("data", chunksize=chunksize))
    assert [len(c) for c in chunks[:-1]] == [chunksize] * (len(chunks) - 1)
    pd.testing.assert_frame_equal(pd.concat(chunks), df, check_index_type=False)
    filtered = pd.concat(om.datasets.get("data", chunksize=chunksize, i__gte=200))
    pd.testing.assert_frame_equal(filtered, df[df.i >= 200], check_index_type=False)


def test_chunks_of_a_series(om):
    series = pd.Series(np.arange(10), name="v")
    om.datasets.put(series, "data")
    chunks = list(om.datasets.get("data", chunksize=4))
    assert all(isinstance(c, pd.Series) for c in chunks)
    pd.testing.assert_series_equal(pd.concat(chunks), series)


def test_bad_chunksize(om):
    om.datasets.put(frame(), "data")
    with pytest.raises(ValueError, match="chunksize"):
        om.datasets.get("data", chunksize=0)


# -- metadata API ------------------------------------------------------------------------------
def test_list_with_glob_patterns(om):
    for name in ["sales/2024", "sales/2025", "costs", "Sales"]:
        om.datasets.put(frame(), name)
    assert om.datasets.list() == ["Sales", "costs", "sales/2024", "sales/2025"]
    assert om.datasets.list("sales/*") == ["sales/2024", "sales/2025"]
    assert om.datasets.list("*202?") == ["sales/2024", "sales/2025"]
    assert om.datasets.list("[cS]*") == ["Sales", "costs"]
    assert om.datasets.list("nothing*") == []
    raw = om.datasets.list("costs", raw=True)
    assert [m.name for m in raw] == ["costs"] and raw[0].kind == "pandas.dataframe"


def test_metadata_describes_the_latest_version(om):
    om.datasets.put(frame(), "data", attributes={"a": 1})
    meta = om.datasets.metadata("data")
    assert (meta.name, meta.version, meta.kind, meta.bucket) == (
        "data",
        1,
        "pandas.dataframe",
        om.bucket,
    )
    assert meta.store == "datasets" and meta.size > 0
    assert meta.kind_meta["rows"] == 3
    assert meta.created.tzinfo is not None
    assert meta.to_dict()["name"] == "data"
    with pytest.raises(ObjectNotFoundError):
        om.datasets.metadata("missing")


def test_exists(om):
    assert not om.datasets.exists("data")
    om.datasets.put(frame(), "data")
    assert om.datasets.exists("data")
    assert om.datasets.exists("data@1")
    assert not om.datasets.exists("data@2")


def test_drop_removes_every_version_and_its_tables(om):
    om3 = Omega(om.settings.replace(dataset_versions=3))
    metas = [om3.datasets.put(frame(i), "data") for i in range(2)]
    blob = om3.datasets.put(b"bytes", "blob")
    assert om3.datasets.drop("data") is True
    assert not om3.datasets.exists("data")
    assert om3.datasets.list() == ["blob"]
    for meta in metas:
        assert not table_exists(om3, meta.location)
    assert om3.datasets.drop("blob") is True
    chunks = sa.text("SELECT count(*) FROM om_blob_chunks WHERE blob_id = :b")
    with om.db.connect() as conn:
        assert conn.execute(chunks, {"b": blob.location}).scalar() == 0


def test_drop_missing(om):
    with pytest.raises(ObjectNotFoundError) as info:
        om.datasets.drop("missing")
    assert isinstance(info.value, KeyError)
    assert "missing" in str(info.value)
    assert om.datasets.drop("missing", force=True) is False


def test_get_missing(om):
    with pytest.raises(KeyError, match="'missing' does not exist"):
        om.datasets.get("missing")


@pytest.mark.parametrize("name", ["", " lead", "a[b", "x@", "tab\tname", "/abs", 42, None])
def test_invalid_names_are_rejected(om, name):
    with pytest.raises(InvalidNameError):
        om.datasets.put(frame(), name)
    assert om.datasets.list() == []
