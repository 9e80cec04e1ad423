"""om.datasets.profile (aggregates in PostgreSQL) vs a full get + pandas, same run, ratios.

    .venv/bin/python bench/profile.py [--rows 1000000] [--repeat 3] [--url postgresql+psycopg://…]

The frame is the 10-column frame of bench/datasets.py (3 ints, 4 floats, a datetime, a
low-cardinality and a 20-character string). Two pandas baselines, each after a full ``get``:
``describe()`` and a 20-bin ``np.histogram`` per numeric column; and every statistic the
profile shows (``describe(include="all")``, null and distinct counts, the histograms and the
top 10 values of the text columns).

The profile is timed as a user calls it (``om.datasets.profile(name)``: the statistics kept at
``put``, distinct counts of numeric and time columns estimated from a sample) and with
``exact=True`` (every figure by aggregate SQL, exact distinct counts); the estimates are
checked against pandas before anything is timed and their largest error is printed.

Creates a scratch database on the server of ``--url`` and drops it at the end.
Target: the profile >= 3x faster than the pandas baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import (
    TIMING_HEADERS,
    Method,
    Target,
    format_table,
    machine_load,
    run_rounds,
    scratch_args,
    scratch_database,
    timing_rows,
)
from datasets import make_frame

import omega_jupyter

GOAL = 3.0


def describe_and_histograms(om: object, name: str) -> dict:
    """The brief's baseline: a full get, ``describe()`` and a 20-bin histogram per numeric
    column."""
    df = om.datasets.get(name)
    out = {"describe": df.describe(), "histograms": {}}
    for column in df.select_dtypes("number").columns:
        out["histograms"][column] = np.histogram(df[column].dropna().to_numpy("float64"), 20)
    return out


def pandas_profile(om: object, name: str) -> dict:
    """Every statistic the profile shows, in pandas after a full get."""
    df = om.datasets.get(name)
    out = {
        "describe": df.describe(include="all"),
        "nulls": df.isna().sum(),
        "distinct": df.nunique(),
        "histograms": {},
        "top": {},
    }
    for column in df.columns:
        values = df[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            finite = values.dropna().to_numpy(dtype="float64")
            out["histograms"][column] = np.histogram(finite, bins=20)
        elif pd.api.types.is_string_dtype(values) or values.dtype == object:
            out["top"][column] = values.value_counts().head(10)
    return out


def main() -> None:
    args = scratch_args()
    with scratch_database(args.url, "omega_bench_profile") as url:
        run(url.render_as_string(hide_password=False), args.rows, args.repeat)


def run(url: str, rows: int, repeat: int) -> None:
    om = omega_jupyter.setup(url=url, bucket="bench")
    om.datasets.put(make_frame(rows), "largedata")
    check = om.datasets.profile("largedata")
    exact = om.datasets.profile("largedata", exact=True)
    baseline = pandas_profile(om, "largedata")
    worst = 0.0
    for column, full in zip(check.columns, exact.columns, strict=True):  # agree before timing
        truth = baseline["distinct"][column.name]
        assert full.distinct == truth, column.name
        if column.distinct_approx:
            worst = max(worst, abs(column.distinct - truth) / truth)
        else:
            assert column.distinct == truth, column.name
        if column.name in baseline["histograms"]:
            counts = baseline["histograms"][column.name][0]
            assert sum(b["count"] for b in column.histogram) == counts.sum(), column.name
            assert column.histogram == full.histogram or all(
                abs(a["count"] - b["count"]) <= 2
                for a, b in zip(column.histogram, full.histogram, strict=True)
            ), column.name
    approx = [c.name for c in check.columns if c.distinct_approx]
    print(f"estimated distinct counts: {', '.join(map(str, approx))}; largest error {worst:.2%}")
    ours = Method("om.datasets.profile", lambda _: om.datasets.profile("largedata"), role="ours")
    methods = [
        ours,
        Method(
            "om.datasets.profile(exact=True) (SQL)",
            lambda _: om.datasets.profile("largedata", exact=True),
        ),
        Method("get + describe() + histograms", lambda _: describe_and_histograms(om, "largedata")),
        Method("get + pandas, every profile statistic", lambda _: pandas_profile(om, "largedata")),
    ]
    print(f"{rows:,} rows x 10 columns, median of {repeat} (PostgreSQL); {machine_load()}")
    run_rounds(methods, repeat, print)
    print(format_table(TIMING_HEADERS, timing_rows(methods, ours)))
    targets = [
        Target(f"profile vs {m.name} (faster by)", m.median / ours.median, GOAL, False)
        for m in methods[2:]
    ]
    print(format_table(["target", "ratio", "goal", "verdict"], [t.row() for t in targets]))


if __name__ == "__main__":
    main()
