"""Dask-parallel reads: ``om.datasets.get(name, dask=N)`` vs ``dask.dataframe.read_sql_table``
with the same partition count, and vs a single-process ``get``; same run, ratios.

    .venv/bin/python bench/dask_read.py [--rows 1000000] [--repeat 3] [--url postgresql+psycopg://…]

The frame is the 10-column frame of bench/datasets.py. A local Dask cluster of 2 worker
processes with one thread each; 2 partitions. Our partitions are equal ranges of the stored row
number, each read by its worker through the bulk path (ADBC); ``read_sql_table`` partitions on
the same row-number column (``index_col``) and reads through SQLAlchemy. Every method's result
is computed into one pandas frame in the client (the same work for each).

Creates a scratch database on the server of ``--url`` and drops it at the end.
Target: ``get(dask=2)`` >= 3x faster than ``read_sql_table`` with 2 partitions.
"""

from __future__ import annotations

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
PARTITIONS = 2


def main() -> None:
    args = scratch_args()
    with scratch_database(args.url, "omega_bench_dask") as url:
        run(url.render_as_string(hide_password=False), args.rows, args.repeat)


def run(url: str, rows: int, repeat: int) -> None:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    om = omega_jupyter.setup(url=url, bucket="bench")
    om.datasets.put(make_frame(rows), "largedata")
    meta = om.datasets.meta.resolve(om.datasets.reference("largedata"))
    schema, table = om.datasets.bulk.schema, meta.location
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    with cluster, Client(cluster) as client:
        if True:
            ours = Method(
                f"get(dask={PARTITIONS}).compute()",
                lambda _: om.datasets.get("largedata", dask=PARTITIONS).compute(),
                role="ours",
            )
            methods = [
                ours,
                Method("get (one process)", lambda _: om.datasets.get("largedata")),
                Method(
                    f"dd.read_sql_table(npartitions={PARTITIONS}).compute()",
                    lambda _: dd.read_sql_table(
                        table, url, index_col="_om_row", schema=schema, npartitions=PARTITIONS
                    ).compute(),
                    role="slow",
                ),
            ]
            check = ours.run(0)
            assert len(check) == rows, len(check)
            print(
                f"{rows:,} rows x 10 columns, {PARTITIONS} partitions, 2 single-thread workers, "
                f"median of {repeat} (PostgreSQL); {machine_load()}; client {client}"
            )
            run_rounds(methods, repeat, print)
    print(format_table(TIMING_HEADERS, timing_rows(methods, ours)))
    targets = [
        Target("read_sql_table / get(dask) (faster by)", methods[2].median / ours.median, GOAL,
               False),
        Target("get / get(dask) (speed-up on 2 workers)", methods[1].median / ours.median, 1.0,
               False),
    ]  # fmt: skip
    print(format_table(["target", "ratio", "goal", "verdict"], [t.row() for t in targets]))


if __name__ == "__main__":
    main()
