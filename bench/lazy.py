"""LazyFrame vs full get + pandas vs hand-written SQL, on PostgreSQL, same run, ratios.

    .venv/bin/python bench/lazy.py [--rows 1000000] [--repeat 3] [--url postgresql+psycopg://…]

Creates a scratch database on the server of ``--url`` and drops it at the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import median_seconds, scratch_args, scratch_database

import omega_jupyter

CITIES = ["New York", "Paris", "Zurich", "Lagos", "Lima", "Osaka", "Pune", "Oslo", "Cairo", "Quito"]
BOROUGHS = ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    return pd.DataFrame(
        {
            "city": pd.Series(rng.choice(CITIES, rows), dtype="str"),
            "borough": pd.Series(rng.choice(BOROUGHS, rows), dtype="str"),
            "amount": rng.integers(0, 1000, rows),
            "score": rng.random(rows),
        }
    )


def main() -> None:
    args = scratch_args()
    with scratch_database(args.url, "omega_bench_lazy") as url:
        run(url.render_as_string(hide_password=False), args.rows, args.repeat)


def run(url: str, rows: int, repeat: int) -> None:
    om = omega_jupyter.setup(url=url, bucket="bench")
    om.datasets.put(make_frame(rows), "largedata")
    meta = om.datasets.metadata("largedata")
    table = f"{om.datasets.bulk.qualified(meta.location)}"
    bulk = om.datasets.bulk
    c = {s["name"]: s["phys"] for s in meta.kind_meta["columns"]}  # physical column names

    def hand_sql(sql: str) -> pd.DataFrame:
        with bulk._adbc() as conn:
            cur = conn.cursor()
            cur.execute(sql)
            frame = cur.fetch_arrow_table().to_pandas()
            cur.close()
        return frame

    mdf = om.datasets.getl("largedata")
    cases = {
        "seed: filter + groupby count": (
            lambda: mdf[mdf["city"] == "New York"].groupby("borough").count().value,
            lambda: (lambda df: df[df["city"] == "New York"].groupby("borough").count())(
                om.datasets.get("largedata")
            ),
            f"SELECT {c['borough']}, count({c['city']}), count({c['amount']}), "
            f"count({c['score']}) FROM {table} WHERE {c['city']} = 'New York' "
            f"GROUP BY {c['borough']} ORDER BY {c['borough']}",
        ),
        "filter + agg + sort": (
            lambda: (
                mdf[mdf["score"] > 0.5]
                .groupby("city")
                .agg({"amount": "sum", "score": "mean"})
                .sort_values("amount", ascending=False)
                .value
            ),
            lambda: (
                lambda df: (
                    df[df["score"] > 0.5]
                    .groupby("city")
                    .agg({"amount": "sum", "score": "mean"})
                    .sort_values("amount", ascending=False)
                )
            )(om.datasets.get("largedata")),
            f"SELECT {c['city']}, sum({c['amount']}), avg({c['score']}) FROM {table} "
            f"WHERE {c['score']} > 0.5 GROUP BY {c['city']} ORDER BY 2 DESC",
        ),
    }
    print(f"{rows:,} rows, median of {repeat} (PostgreSQL)")
    print(
        f"{'query':32} {'lazy s':>8} {'get+pandas s':>13} {'hand SQL s':>11} "
        f"{'lazy/SQL':>9} {'pandas/lazy':>12}"
    )
    for label, (lazy, pandas_way, sql) in cases.items():
        pd.testing.assert_frame_equal(
            lazy().reset_index(drop=True), pandas_way().reset_index(drop=True), check_names=False
        )
        t_lazy = median_seconds(lazy, repeat, warmup=True)
        t_pandas = median_seconds(pandas_way, repeat, warmup=True)
        t_sql = median_seconds(lambda sql=sql: hand_sql(sql), repeat, warmup=True)
        print(
            f"{label:32} {t_lazy:8.3f} {t_pandas:13.3f} {t_sql:11.3f} "
            f"{t_lazy / t_sql:8.2f}x {t_pandas / t_lazy:11.1f}x"
        )
    print("targets: lazy within 1.5x of hand SQL; >= 10x faster than get + pandas")


if __name__ == "__main__":
    main()
