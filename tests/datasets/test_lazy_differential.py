"""Lazy frames against pandas as the oracle: generated frames and operation chains."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 25))
    ints = st.integers(-3, 3)
    floats = st.sampled_from([-1.5, 0.0, 0.25, 2.0, 7.5, np.nan])
    texts = st.sampled_from(["x", "y", "zz", "Yak", None])
    return pd.DataFrame(
        {
            "a": pd.Series(draw(st.lists(ints, min_size=n, max_size=n)), dtype="int64"),
            "b": pd.Series(draw(st.lists(floats, min_size=n, max_size=n)), dtype="float64"),
            "c": pd.Series(draw(st.lists(texts, min_size=n, max_size=n)), dtype="str"),
            "d": pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
        }
    )


COLUMNS = ["a", "b", "c", "d"]
SCALARS = {
    "a": st.integers(-3, 3),
    "b": st.sampled_from([-1.0, 0.25, 2.0]),
    "c": st.sampled_from(["x", "y", "a"]),
    "d": st.booleans(),
}


@st.composite
def steps(draw: st.DrawFn) -> list[tuple]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(
                ["filter", "not", "sort", "head", "tail", "assign", "dedup", "isin", "iloc"]
            )
        )
        if kind in ("filter", "not"):
            col = draw(st.sampled_from(COLUMNS))
            ops = ["eq", "ne"] if col == "d" else ["eq", "ne", "lt", "le", "gt", "ge"]
            out.append((kind, col, draw(st.sampled_from(ops)), draw(SCALARS[col])))
        elif kind == "sort":
            cols = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=2, unique=True))
            out.append((kind, cols, draw(st.booleans())))
        elif kind in ("head", "tail"):
            out.append((kind, draw(st.integers(0, 8))))
        elif kind == "iloc":
            start = draw(st.integers(0, 5))
            out.append((kind, start, start + draw(st.integers(0, 6))))
        elif kind == "dedup":
            out.append(
                (
                    kind,
                    draw(st.sampled_from(["a", "c", "d"])),
                    draw(st.sampled_from(["first", "last"])),
                )
            )
        elif kind == "isin":
            out.append((kind, draw(st.lists(st.sampled_from(["x", "zz", "Yak"]), max_size=2))))
        else:
            out.append((kind, draw(st.integers(-2, 2))))
    return out


OPS = {
    "eq": "__eq__",
    "ne": "__ne__",
    "lt": "__lt__",
    "le": "__le__",
    "gt": "__gt__",
    "ge": "__ge__",
}


def apply(frame, step, lazy: bool):
    kind = step[0]
    if kind in ("filter", "not"):
        mask = getattr(frame[step[1]], OPS[step[2]])(step[3])
        return frame[~mask if kind == "not" else mask]
    if kind == "sort":
        if lazy:
            return frame.sort_values(step[1], ascending=step[2])
        return frame.sort_values(step[1], ascending=step[2], kind="stable")
    if kind == "head":
        return frame.head(step[1])
    if kind == "tail":
        return frame.tail(step[1])
    if kind == "iloc":
        return frame.iloc[step[1] : step[2]]
    if kind == "dedup":
        return frame.drop_duplicates(step[1], keep=step[2])
    if kind == "isin":
        return frame[frame["c"].isin(step[1]) | (frame["a"] > 0)]
    return frame.assign(e=frame["a"] * step[1] + frame["b"], f=frame["b"] / 2)


def run_chain(om, df, chain):
    name = f"d{uuid.uuid4().hex[:8]}"
    om.datasets.put(df, name)
    lazy, expected = om.datasets.getl(name), df
    for step in chain:
        lazy, expected = apply(lazy, step, True), apply(expected, step, False)
    return lazy, expected


@SETTINGS
@given(df=frames(), chain=steps())
def test_chains_equal_pandas(om, df, chain):
    lazy, expected = run_chain(om, df, chain)
    got = lazy.value
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert len(lazy) == len(expected)
    assert list(lazy.columns) == list(expected.columns)
    assert lazy.dtypes.to_dict() == expected.dtypes.to_dict()


AGGS = ["count", "size", "sum", "mean", "min", "max", "nunique", "first", "last", "std"]


@SETTINGS
@given(df=frames(), chain=steps(), key=st.sampled_from(["a", "c", "d"]), how=st.sampled_from(AGGS))
def test_groupby_equal_pandas(om, df, chain, key, how):
    lazy, expected = run_chain(om, df, chain)
    numeric = [c for c in ("a", "b") if c != key]
    cols = numeric if how in ("sum", "mean", "std") else [c for c in COLUMNS if c != key]
    got = getattr(lazy.groupby(key)[cols], how)().value
    want = getattr(expected.groupby(key)[cols], how)()
    if isinstance(want, pd.Series):
        pd.testing.assert_series_equal(got, want, check_exact=False, rtol=1e-9)
    else:
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)


@SETTINGS
@given(
    df=frames(),
    chain=steps(),
    how=st.sampled_from(["sum", "mean", "min", "max", "count", "std", "var", "median", "nunique"]),
    col=st.sampled_from(["a", "b"]),
)
def test_reductions_equal_pandas(om, df, chain, how, col):
    lazy, expected = run_chain(om, df, chain)
    got, want = getattr(lazy[col], how)(), getattr(expected[col], how)()
    if pd.isna(want):
        assert pd.isna(got)
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    frame_got = getattr(lazy[["a", "b"]], how)()
    frame_want = getattr(expected[["a", "b"]], how)()
    pd.testing.assert_series_equal(frame_got, frame_want, check_exact=False, rtol=1e-9)


@SETTINGS
@given(df=frames(), chain=steps(), col=st.sampled_from(["a", "c", "d"]))
def test_value_counts_unique_equal_pandas(om, df, chain, col):
    lazy, expected = run_chain(om, df, chain)
    pd.testing.assert_series_equal(lazy[col].value_counts().value, expected[col].value_counts())
    got_u, want_u = lazy[col].unique(), expected[col].unique()
    assert list(pd.Series(got_u).astype(object).fillna("<na>")) == list(
        pd.Series(want_u).astype(object).fillna("<na>")
    )
    assert lazy[col].nunique() == expected[col].nunique()


@SETTINGS
@given(
    left=frames(),
    right=frames(),
    how=st.sampled_from(["inner", "left", "right", "outer"]),
    on=st.sampled_from([["a"], ["a", "d"]]),
)
def test_merge_equal_pandas(om, left, right, how, on):
    ln, rn = f"l{uuid.uuid4().hex[:8]}", f"r{uuid.uuid4().hex[:8]}"
    om.datasets.put(left, ln)
    om.datasets.put(right[["a", "b", "d"]], rn)
    got = om.datasets.getl(ln).merge(om.datasets.getl(rn), on=on, how=how).value
    want = left.merge(right[["a", "b", "d"]], on=on, how=how)
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9)
