"""Lossless DataFrame and Series round trips: ``get(put(df))`` equals ``df`` exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import UnsupportedObjectError


def roundtrip(om, obj, name: str = "rt"):
    om.datasets.put(obj, name)
    return om.datasets.get(name)


def assert_frame_roundtrip(om, df: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(roundtrip(om, df), df, check_exact=True)


# -- numbers and booleans ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_signed_integers_keep_dtype_and_extremes(om, dtype):
    info = np.iinfo(dtype)
    df = pd.DataFrame({"v": np.array([info.min, -1, 0, 1, info.max], dtype=dtype)})
    assert_frame_roundtrip(om, df)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "uint64"])
def test_unsigned_integers_keep_dtype_and_extremes(om, dtype):
    info = np.iinfo(dtype)
    df = pd.DataFrame({"v": np.array([0, 1, info.max // 2, info.max - 1, info.max], dtype=dtype)})
    assert_frame_roundtrip(om, df)


def test_uint64_max_value(om):
    df = pd.DataFrame({"v": np.array([2**64 - 1, 2**63, 2**63 - 1, 0], dtype="uint64")})
    out = roundtrip(om, df)
    assert out["v"].tolist() == [2**64 - 1, 2**63, 2**63 - 1, 0]
    pd.testing.assert_frame_equal(out, df)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floats_with_nan_and_infinities(om, dtype):
    values = [0.0, -0.0, 1.5, np.nan, np.inf, -np.inf, np.finfo(dtype).max, np.finfo(dtype).tiny]
    df = pd.DataFrame({"v": np.array(values, dtype=dtype)})
    assert_frame_roundtrip(om, df)


def test_float_precision_is_exact(om):
    df = pd.DataFrame({"v": [0.1, 1 / 3, 2.0**-1074, 1e308, np.pi]})
    assert_frame_roundtrip(om, df)


def test_bool(om):
    assert_frame_roundtrip(om, pd.DataFrame({"v": [True, False, True]}))


def test_nullable_extension_types_with_na(om):
    df = pd.DataFrame(
        {
            "i64": pd.array([1, None, -(2**63)], dtype="Int64"),
            "i8": pd.array([None, 127, -128], dtype="Int8"),
            "u64": pd.array([2**64 - 1, None, 0], dtype="UInt64"),
            "u16": pd.array([65535, None, 0], dtype="UInt16"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "f64": pd.array([1.5, None, -0.25], dtype="Float64"),
            "f32": pd.array([None, 2.5, 3.0], dtype="Float32"),
        }
    )
    assert_frame_roundtrip(om, df)


def test_nullable_all_missing(om):
    df = pd.DataFrame(
        {
            "i": pd.array([None, None], dtype="Int64"),
            "b": pd.array([None, None], dtype="boolean"),
            "f": pd.array([None, None], dtype="Float64"),
            "s": pd.array([None, None], dtype="string"),
            "o": pd.Series([None, None], dtype=object),
            "d": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]"),
        }
    )
    assert_frame_roundtrip(om, df)


# -- text --------------------------------------------------------------------------------------
def test_default_str_dtype_with_missing(om):
    df = pd.DataFrame({"s": pd.Series(["a", None, "ü ✓", "", "x'; DROP TABLE t; --"])})
    assert str(df["s"].dtype) == "str"
    assert_frame_roundtrip(om, df)


@pytest.mark.parametrize("storage", ["python", "pyarrow"])
@pytest.mark.parametrize("na_value", [pd.NA, np.nan])
def test_string_dtypes(om, storage, na_value):
    dtype = pd.StringDtype(storage, na_value=na_value)
    df = pd.DataFrame({"s": pd.array(["a", None, "ß", "", "a\tb\nc"], dtype=dtype)})
    out = roundtrip(om, df)
    assert out["s"].dtype == dtype
    pd.testing.assert_frame_equal(out, df)


def test_object_strings_with_none(om):
    df = pd.DataFrame({"o": pd.Series(["a", None, "b", "", "None"], dtype=object)})
    out = roundtrip(om, df)
    assert out["o"].dtype == object
    assert out["o"].tolist() == ["a", None, "b", "", "None"]
    pd.testing.assert_frame_equal(out, df)


def test_long_and_unicode_text(om):
    df = pd.DataFrame({"t": pd.Series(["x" * 100_000, "日本語 🎉", "\\ backslash ' \" ;"])})
    assert_frame_roundtrip(om, df)


def test_object_column_of_mixed_json_values(om):
    df = pd.DataFrame({"o": pd.Series([1, "a", None, [1, 2], {"k": 1.5}], dtype=object)})
    assert_frame_roundtrip(om, df)


def test_object_column_of_unstorable_values_is_rejected(om):
    df = pd.DataFrame({"o": pd.Series([object(), object()], dtype=object)})
    with pytest.raises(UnsupportedObjectError, match="'o'"):
        om.datasets.put(df, "bad")
    assert not om.datasets.exists("bad")


# -- categories --------------------------------------------------------------------------------
def test_category_keeps_categories_order_and_missing(om):
    dtype = pd.CategoricalDtype(["low", "mid", "high", "unused"], ordered=True)
    df = pd.DataFrame({"c": pd.Series(["high", None, "low", "high"], dtype=dtype)})
    out = roundtrip(om, df)
    assert out["c"].cat.categories.tolist() == ["low", "mid", "high", "unused"]
    assert out["c"].cat.ordered
    pd.testing.assert_frame_equal(out, df)


def test_unordered_category_of_ints_and_datetimes(om):
    df = pd.DataFrame(
        {
            "ci": pd.Categorical([3, 1, None, 3], categories=[3, 2, 1]),
            "cd": pd.Categorical(
                pd.to_datetime(
                    ["2024-01-01", None, "2023-05-05 00:00:00.5", None], format="ISO8601"
                )
            ),
            "ct": pd.Categorical(
                pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-01"]).tz_localize(
                    "Europe/Zurich"
                )
            ),
        }
    )
    assert_frame_roundtrip(om, df)


def test_category_with_object_categories(om):
    cats = pd.Index(["b", "a"], dtype=object)
    df = pd.DataFrame({"c": pd.Categorical(["a", "b", None], categories=cats)})
    assert_frame_roundtrip(om, df)


# -- time --------------------------------------------------------------------------------------
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_naive_datetimes_in_every_unit(om, unit):
    values = pd.to_datetime(
        ["2024-02-29 12:34:56.123456789", None, "1970-01-01", "1677-09-22"], format="ISO8601"
    )
    df = pd.DataFrame({"d": pd.Series(values).astype(f"datetime64[{unit}]")})
    assert_frame_roundtrip(om, df)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["UTC", "Europe/Zurich", "America/New_York", "+05:30"])
def test_tz_aware_datetimes(om, unit, tz):
    values = pd.to_datetime(
        ["2024-03-31 01:30:00.000001001", None, "2000-01-01"], utc=True, format="ISO8601"
    )
    series = pd.Series(values).dt.tz_convert(tz).astype(f"datetime64[{unit}, {tz}]")
    df = pd.DataFrame({"d": series})
    assert_frame_roundtrip(om, df)


def test_nanosecond_values_are_kept(om):
    stamps = pd.Series(pd.to_datetime([1, 999, 10**18 + 7, None], unit="ns"))
    df = pd.DataFrame({"naive": stamps, "aware": stamps.dt.tz_localize("Asia/Tokyo")})
    out = roundtrip(om, df)
    assert out["naive"].iloc[2].value == 10**18 + 7
    pd.testing.assert_frame_equal(out, df)


def test_datetime_extremes_in_ns(om):
    df = pd.DataFrame({"d": pd.Series([pd.Timestamp.min, pd.Timestamp.max, pd.NaT])})
    assert_frame_roundtrip(om, df)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timedeltas(om, unit):
    values = pd.to_timedelta(["1 day 00:00:01.000000001", None, "-3h", "0s"])
    df = pd.DataFrame({"t": pd.Series(values).astype(f"timedelta64[{unit}]")})
    assert_frame_roundtrip(om, df)


# -- indexes -----------------------------------------------------------------------------------
def test_multiindex_rows_with_names(om):
    index = pd.MultiIndex.from_arrays(
        [
            ["a", "a", "b", None],
            pd.array([1, 2, 1, None], dtype="Int32"),
            pd.to_datetime(["2024-01-01", None, "2024-01-02", "2024-01-03"]).tz_localize("UTC"),
        ],
        names=["key", "n", None],
    )
    df = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0]}, index=index)
    assert_frame_roundtrip(om, df)


def test_string_index(om):
    df = pd.DataFrame({"v": [1, 2, 3]}, index=pd.Index(["z", "y", "x"], name="letters"))
    assert_frame_roundtrip(om, df)


def test_object_index_without_name(om):
    df = pd.DataFrame({"v": [1, 2]}, index=pd.Index(["a", "b"], dtype=object))
    assert_frame_roundtrip(om, df)


def test_object_levels_in_multiindex(om):
    index = pd.MultiIndex.from_arrays(
        [pd.Index(["a", None], dtype=object), pd.Index(["x", "y"], dtype="str")], names=["o", "s"]
    )
    df = pd.DataFrame({"v": [1, 2]}, index=index)
    assert_frame_roundtrip(om, df)


def test_datetime_index(om):
    index = pd.date_range("2024-01-01", periods=5, freq="h", tz="Europe/Berlin", name="when")
    df = pd.DataFrame({"v": range(5)}, index=index)
    out = roundtrip(om, df)
    pd.testing.assert_frame_equal(out, df, check_freq=False)


def test_range_index_with_start_and_step(om):
    df = pd.DataFrame({"v": [1, 2, 3]}, index=pd.RangeIndex(10, 40, 10, name="r"))
    out = roundtrip(om, df)
    assert isinstance(out.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(out, df, check_index_type=True)


def test_negative_step_range_index(om):
    df = pd.DataFrame({"v": [1, 2, 3]}, index=pd.RangeIndex(5, -1, -2))
    assert_frame_roundtrip(om, df)


def test_unsorted_integer_index_with_duplicates(om):
    df = pd.DataFrame({"v": [1, 2, 3, 4]}, index=pd.Index([5, 5, -1, 3], dtype="int16"))
    assert_frame_roundtrip(om, df)


def test_row_order_is_kept(om):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"v": rng.integers(0, 100, 5000)}, index=rng.permutation(5000))
    assert_frame_roundtrip(om, df)


# -- column names ------------------------------------------------------------------------------
WEIRD_NAMES = [
    'quote"d',
    "single'quote",
    "semi;colon",
    "x'; DROP TABLE om_objects; --",
    "ünïcødé ✓",
    "with space",
    "",
    "n" * 70,
    "é" * 40,  # 80 bytes in UTF-8
    "select",
    "from",
    "c0",
    "c1",
    "_om_row",
    "_om_ix0",
    "A",
    "a",
    "Order",
    "ORDER",
    "123",
    "%s",
    "?",
    ":name",
    "$1",
]


def test_column_names_of_any_text(om):
    df = pd.DataFrame({name: [i, i + 1] for i, name in enumerate(WEIRD_NAMES)})
    assert_frame_roundtrip(om, df)


def test_names_longer_than_63_bytes_that_share_a_prefix(om):
    df = pd.DataFrame({"p" * 64 + "1": [1], "p" * 64 + "2": [2]})
    assert_frame_roundtrip(om, df)


def test_integer_column_labels(om):
    df = pd.DataFrame(np.arange(6).reshape(2, 3))
    assert_frame_roundtrip(om, df)


def test_mixed_label_types_and_columns_name(om):
    df = pd.DataFrame({0: [1], "a": [2], 1.5: [3]})
    df.columns.name = "cols"
    assert_frame_roundtrip(om, df)


def test_index_named_like_a_column(om):
    df = pd.DataFrame({"v": [1, 2], "k": [3, 4]}, index=pd.Index(["x", "y"], name="v"))
    assert_frame_roundtrip(om, df)


def test_duplicate_column_names_are_rejected(om):
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(UnsupportedObjectError, match="duplicate"):
        om.datasets.put(df, "dupes")
    assert not om.datasets.exists("dupes")


# -- shapes and series -------------------------------------------------------------------------
def test_empty_frame_keeps_dtypes(om):
    df = pd.DataFrame(
        {
            "i": pd.Series([], dtype="int32"),
            "s": pd.Series([], dtype="str"),
            "c": pd.Series([], dtype=pd.CategoricalDtype(["a"])),
            "d": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )
    assert_frame_roundtrip(om, df)


def test_empty_frame_with_index(om):
    df = pd.DataFrame({"v": pd.Series([], dtype="float64")}, index=pd.Index([], name="k"))
    assert_frame_roundtrip(om, df)


def test_frame_without_columns(om):
    df = pd.DataFrame(index=pd.RangeIndex(3))
    assert_frame_roundtrip(om, df)


def test_frame_spanning_many_chunks(om):
    small = Omega(om.settings.replace(chunk_rows=1000))
    n = 10_001
    df = pd.DataFrame(
        {"i": np.arange(n), "c": pd.Categorical(np.arange(n) % 7), "s": (np.arange(n) % 5)},
        index=pd.Index(np.arange(n) * 2, name="k"),
    )
    df["s"] = df["s"].astype(str)
    assert_frame_roundtrip(small, df)


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1, 2, 3], name="ints", dtype="int16"),
        pd.Series(["a", None], name=None),
        pd.Series([1.5, None], name=0, index=pd.Index(["a", "b"], name="k")),
        pd.Series(pd.Categorical(["x", "y", "x"]), name="cat"),
        pd.Series(pd.date_range("2024-01-01", periods=3, tz="UTC"), name="d"),
    ],
    ids=["int16", "unnamed", "int-name", "category", "datetime"],
)
def test_series_roundtrip(om, series):
    out = roundtrip(om, series)
    assert isinstance(out, pd.Series)
    pd.testing.assert_series_equal(out, series, check_freq=False)


def test_multiindex_with_integer_level_names_keeps_each_level(om):
    """A level named 1 must not be mistaken for the level at position 1."""
    index = pd.MultiIndex.from_arrays([["x", "y"], [10, 20]], names=[1, 0])
    df = pd.DataFrame({"v": [1.5, 2.5]}, index=index)
    om.datasets.put(df, "levels")
    pd.testing.assert_frame_equal(om.datasets.get("levels"), df, check_exact=True)
