"""Where a profile's figures come from: the statistics kept at ``put`` agree with the database's
aggregates, ``exact=True`` equals pandas, estimated distinct counts are flagged and within the
documented tolerance, and ``append`` drops the kept statistics (both databases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omega_jupyter.datasets import profile as profile_module
from tests.datasets.test_profile import awkward_frame

TOLERANCE = 0.15  # the module docstring's stated bound for uniform data


def estimate_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "unique": rng.random(rows),
            "uniform": rng.integers(0, rows // 4, rows),
            "few": rng.integers(0, 7, rows),
            "when": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, rows // 2, rows), "s"),
            "label": pd.Series(rng.choice(list("abcdefgh"), rows), dtype="str"),
            "code": pd.Series([f"k{i:07d}" for i in range(rows)], dtype="str"),
        }
    )


def test_written_statistics_equal_the_database_aggregates(om) -> None:
    df = awkward_frame()
    om.datasets.put(df, "awk")
    kept = om.datasets.profile("awk")
    exact = om.datasets.profile("awk", exact=True)
    assert (kept.source, exact.source) == ("written", "database")
    assert exact.exact and kept.exact  # 997 rows: every distinct count is exact
    for ours, theirs in zip(kept.columns, exact.columns, strict=True):
        label = ours.name
        assert (ours.count, ours.nulls, ours.distinct) == (
            theirs.count,
            theirs.nulls,
            theirs.distinct,
        ), label
        assert ours.distinct == df[label].nunique(), label
        for stat in ("min", "max", "mean", "std"):
            a, b = getattr(ours, stat), getattr(theirs, stat)
            assert (a is None) == (b is None), (label, stat)
            if isinstance(a, float):
                assert a == pytest.approx(b, rel=1e-9), (label, stat)
            else:
                assert a == b, (label, stat)
        assert ours.top == theirs.top, label
        assert [h["count"] for h in ours.histogram] == [h["count"] for h in theirs.histogram]
        assert [h["start"] for h in ours.histogram] == pytest.approx(
            [h["start"] for h in theirs.histogram]
        )


def test_other_bins_or_top_values_are_computed_in_the_database(om) -> None:
    df = awkward_frame()
    om.datasets.put(df, "awk")
    assert om.datasets.profile("awk", bins=7).source == "database"
    assert om.datasets.profile("awk", top=3).source == "written"  # fewer than kept
    assert len(om.datasets.profile("awk", top=3)["with space"].top) == 3
    assert om.datasets.profile("awk", top=50).source == "database"


def test_estimates_are_flagged_and_within_tolerance(om, monkeypatch) -> None:
    monkeypatch.setattr(profile_module, "SAMPLE_ROWS", 3000)
    df = estimate_frame(40_000)
    om.datasets.put(df, "big")
    for prof in (om.datasets.profile("big"), om.datasets.profile("big", bins=5)):
        assert not prof.exact
        for col in prof.columns:
            truth = df[col.name].nunique()
            if col.name == "label" and prof.source == "written":  # counted in full at put
                assert not col.distinct_approx and col.distinct == truth
                continue
            if prof.source == "written":
                assert col.distinct_approx, col.name
            if col.distinct_approx:
                assert col.distinct == pytest.approx(truth, rel=TOLERANCE), col.name
            else:
                assert col.distinct == truth, col.name
        assert prof["unique"].distinct == len(df)  # every sampled value seen once: all of them
        assert prof["few"].distinct == 7
        assert prof["code"].distinct == len(df) and prof["code"].top == []
        assert prof["code"].distinct_approx  # an all-distinct sample: not counted in full
        data = prof.to_dict()
        assert data["exact"] is False
        assert data["columns"][0]["distinct_approx"] is True
        rows = {r["column"]: r for r in prof.summary_rows()}
        assert rows["uniform"]["distinct"].startswith("≈")
    exact = om.datasets.profile("big", exact=True)
    assert exact.exact and exact.source == "database"
    assert [c.distinct for c in exact.columns] == df.nunique().tolist()
    assert not any(c.distinct_approx for c in exact.columns)
    assert exact.to_dict()["columns"][1]["distinct_approx"] is False


def test_append_drops_the_kept_statistics(om) -> None:
    first = pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": pd.Series(["a", "b", "a"], dtype="str")})
    more = pd.DataFrame({"x": [10.0, 20.0], "s": pd.Series(["c", "c"], dtype="str")})
    om.datasets.put(first, "grow")
    assert om.datasets.profile("grow").source == "written"
    om.datasets.put(more, "grow", append=True)
    prof = om.datasets.profile("grow")
    assert prof.source == "database" and prof.rows == 5
    both = pd.concat([first, more], ignore_index=True)
    assert prof["x"].max == 20.0 and prof["x"].mean == pytest.approx(both["x"].mean())
    assert prof["s"].distinct == 3 and prof["s"].top[0] == {"value": "a", "count": 2}
    assert sum(h["count"] for h in prof["x"].histogram) == 5


def test_a_series_and_infinities_are_kept(om) -> None:
    om.datasets.put(pd.Series([1.0, np.inf, -np.inf, np.nan], name="v"), "inf")
    kept, exact = om.datasets.profile("inf"), om.datasets.profile("inf", exact=True)
    assert kept.source == "written"
    col = kept["v"]
    assert (col.count, col.nulls, col.min, col.max) == (3, 1, -np.inf, np.inf)
    assert (col.min, col.max, col.histogram) == (exact["v"].min, exact["v"].max, [])
    assert col.to_dict()["min"] is None  # JSON has no infinities
