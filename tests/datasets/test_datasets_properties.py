"""Property-based round trips: hypothesis generates frames, ``get(put(df))`` must equal them."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from omega_jupyter.exceptions import UnsupportedObjectError

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("OMEGA_TEST_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NUMPY_DTYPES = [
    *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    *("float32", "float64", "bool", "datetime64[ns]", "timedelta64[ns]"),
]
TIMEZONES = ["UTC", "Europe/Zurich", "America/Los_Angeles", "Asia/Kolkata"]


def texts(nul: bool) -> st.SearchStrategy[str]:
    """Any text (surrogates cannot be encoded); NUL only where the database can store it."""
    return st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters=[] if nul else ["\x00"]),
        max_size=12,
    )


def labels() -> st.SearchStrategy[object]:
    # Labels are names: no NUL (PostgreSQL's JSONB cannot hold it); names long enough to exceed
    # PostgreSQL's 63-byte identifiers, and ones that look like SQL or generated names.
    special = st.sampled_from(["select", "c0", "c1", "_om_row", "A", "a", "x'; --", "é" * 40])
    return st.one_of(texts(nul=False), special, st.integers(-5, 5))


def stamps(unit: str = "ns") -> st.SearchStrategy[pd.Timestamp]:
    return st.integers(-(2**62), 2**62).map(lambda v: pd.Timestamp(v, unit="ns").as_unit(unit))


@st.composite
def extension_column(draw: st.DrawFn, n: int, nul: bool) -> pd.Series:
    """One column of a type hypothesis.extra.pandas does not generate itself."""
    kind = draw(
        st.sampled_from(
            ["Int64", "UInt8", "boolean", "Float64", "str", "string", "object", "category",
             "ordered", "tz", "datetime_s", "datetime_ms", "timedelta_us"]
        )
    )  # fmt: skip
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))

    def with_missing(values: list) -> list:
        return [None if m else v for v, m in zip(values, missing, strict=True)]

    def draw_values(strategy: st.SearchStrategy) -> list:
        return with_missing(draw(st.lists(strategy, min_size=n, max_size=n)))

    if kind == "Int64":
        return pd.Series(draw_values(st.integers(-(2**63), 2**63 - 1)), dtype="Int64")
    if kind == "UInt8":
        return pd.Series(draw_values(st.integers(0, 255)), dtype="UInt8")
    if kind == "boolean":
        return pd.Series(draw_values(st.booleans()), dtype="boolean")
    if kind == "Float64":
        return pd.Series(draw_values(st.floats(allow_nan=False)), dtype="Float64")
    if kind in ("str", "string", "object"):
        dtype = {"str": "str", "string": "string", "object": object}[kind]
        return pd.Series(draw_values(texts(nul)), dtype=dtype)
    if kind in ("category", "ordered"):
        cats = draw(st.lists(texts(nul=False), min_size=1, max_size=5, unique=True))
        values = draw_values(st.sampled_from(cats))
        return pd.Series(pd.Categorical(values, categories=cats, ordered=kind == "ordered"))
    if kind == "tz":
        tz = draw(st.sampled_from(TIMEZONES))
        values = draw_values(stamps())
        return pd.Series(pd.to_datetime(values).tz_localize("UTC").tz_convert(tz))
    if kind.startswith("datetime"):
        unit = kind.split("_")[1]
        return pd.Series(pd.to_datetime(draw_values(stamps(unit)))).astype(f"datetime64[{unit}]")
    values = draw_values(st.integers(-(2**40), 2**40))
    return pd.Series(pd.to_timedelta(values, unit="us")).astype("timedelta64[us]")


@st.composite
def indexes(draw: st.DrawFn, n: int) -> pd.Index:
    kind = draw(st.sampled_from(["range", "int", "text", "datetime", "multi"]))
    name = draw(st.one_of(st.none(), labels()))
    if kind == "range":
        start = draw(st.integers(-100, 100))
        step = draw(st.integers(1, 7)) * draw(st.sampled_from([1, -1]))
        return pd.RangeIndex(start, start + n * step, step, name=name)
    if kind == "int":
        return draw(hpd.indexes(dtype="int64", min_size=n, max_size=n)).rename(name)
    if kind == "text":
        return draw(hpd.indexes(elements=texts(nul=False), min_size=n, max_size=n)).rename(name)
    if kind == "datetime":
        values = draw(st.lists(stamps(), min_size=n, max_size=n))
        return pd.DatetimeIndex(values, name=name)
    first = draw(st.lists(texts(nul=False), min_size=n, max_size=n))
    second = draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n))
    return pd.MultiIndex.from_arrays([first, second], names=[name, "second"])


@st.composite
def frames(draw: st.DrawFn, nul: bool) -> pd.DataFrame:
    """Frames mixing numpy dtypes (from hypothesis.extra.pandas) and pandas extension types."""
    n = draw(st.integers(0, 20))
    names = draw(st.lists(labels(), max_size=8, unique_by=lambda v: (type(v), v)))
    numpy_count = draw(st.integers(0, len(names)))
    numpy_columns = [
        hpd.column(name, dtype=draw(st.sampled_from(NUMPY_DTYPES))) for name in names[:numpy_count]
    ]
    df = draw(hpd.data_frames(numpy_columns, index=hpd.range_indexes(min_size=n, max_size=n)))
    for name in names[numpy_count:]:
        df[name] = draw(extension_column(n, nul)).array
    df.index = draw(indexes(n))
    return df


@pytest.fixture
def allows_nul(om) -> bool:
    return not om.db.is_postgres


@PROPERTY_SETTINGS
@given(data=st.data())
def test_generated_frames_round_trip(om, allows_nul, data):
    df = data.draw(frames(nul=allows_nul))
    om.datasets.put(df, "generated")
    pd.testing.assert_frame_equal(om.datasets.get("generated"), df, check_exact=True)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_generated_series_round_trip(om, allows_nul, data):
    n = data.draw(st.integers(0, 15))
    series = data.draw(extension_column(n, allows_nul))
    series.name = data.draw(st.one_of(st.none(), labels()))
    om.datasets.put(series, "series")
    pd.testing.assert_series_equal(om.datasets.get("series"), series, check_exact=True)


# -- NUL characters ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"text": ["ok", "a\x00b"]}),
        pd.DataFrame({"text": pd.array(["a\x00", None], dtype="string")}),
        pd.DataFrame({"v": [1, 2]}, index=pd.Index(["x", "\x00"], name="text")),
    ],
    ids=["str", "string", "index"],
)
def test_nul_in_text_values(om, df):
    if not om.db.is_postgres:
        om.datasets.put(df, "nul")
        pd.testing.assert_frame_equal(om.datasets.get("nul"), df)
        return
    om.datasets.put(pd.DataFrame({"text": ["before"]}), "nul")
    with pytest.raises(UnsupportedObjectError, match=r"'text'.*NUL"):
        om.datasets.put(df, "nul")
    pd.testing.assert_frame_equal(
        om.datasets.get("nul"), pd.DataFrame({"text": ["before"]}), check_exact=True
    )
    assert len(om.datasets.versions("nul")) == 1


def test_nul_in_column_name_or_category(om):
    frames_with_nul = [
        pd.DataFrame({"bad\x00name": [1]}),
        pd.DataFrame({"c": pd.Categorical(["a"], categories=["a", "unused\x00"])}),
    ]
    for df in frames_with_nul:
        if om.db.is_postgres:
            with pytest.raises(UnsupportedObjectError, match="NUL"):
                om.datasets.put(df, "nul")
            assert not om.datasets.exists("nul")
        else:
            om.datasets.put(df, "nul")
            pd.testing.assert_frame_equal(om.datasets.get("nul"), df)
