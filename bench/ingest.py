"""read_csv vs pd.read_csv + to_sql vs psql \\copy, on PostgreSQL, same run, ratios.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--repeat 3] [--url postgresql+psycopg://…]

Writes a seeded CSV to a temporary directory, creates a scratch database on the server of
``--url`` and drops it at the end. ``to_sql`` runs once (it takes tens of seconds).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from _common import scratch_args, scratch_database

import omega_jupyter


def make_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(7)
    pd.DataFrame(
        {
            "id": np.arange(rows),
            "customer": rng.integers(0, 50_000, rows),
            "price": rng.random(rows) * 100,
            "score": rng.random(rows),
            "region": rng.choice(["north", "south", "east", "west", "centre"], rows),
            "code": [f"C{i:09d}" for i in rng.integers(0, 10**9, rows)],
        }
    ).to_csv(path, index=False)


COPY_DDL = (
    "CREATE TABLE {t} (id bigint, customer bigint, price double precision, "
    "score double precision, region text, code text)"
)


def main() -> None:
    args = scratch_args()
    with (
        scratch_database(args.url, "omega_bench_ingest") as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        path = Path(tmp) / "big.csv"
        make_csv(path, args.rows)
        run(url, path, args.rows, args.repeat)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(url: sa.URL, path: Path, rows: int, repeat: int) -> None:
    om = omega_jupyter.setup(url=url.render_as_string(hide_password=False), bucket="bench")
    engine = sa.create_engine(url)
    om.datasets.read_csv(path, "warmup", chunksize=10_000)  # schema, imports, connections
    counter = iter(range(1000))

    def ours() -> None:
        om.datasets.read_csv(path, f"big{next(counter)}")

    def psql_copy() -> None:
        table = f"copy_{next(counter)}"
        with engine.begin() as conn:
            conn.execute(sa.text(COPY_DDL.format(t=table)))
        cmd = f"\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER true)"
        subprocess.run(
            [
                "psql",
                "-q",
                "-h",
                url.host or "127.0.0.1",
                "-p",
                str(url.port or 5432),
                "-U",
                url.username or "root",
                "-d",
                url.database or "",
                "-c",
                cmd,
            ],
            check=True,
        )

    def pandas_to_sql() -> None:
        df = pd.read_csv(path)
        df.to_sql(f"tosql_{next(counter)}", engine, index=False, chunksize=100_000)

    t_ours, t_copy = [], []
    for _ in range(repeat):  # round-robin, so background load hits both alike
        t_ours.append(timed(ours))
        t_copy.append(timed(psql_copy))
    t_sql = timed(pandas_to_sql)
    ours_s, copy_s = statistics.median(t_ours), statistics.median(t_copy)
    size = path.stat().st_size / 2**20
    print(f"{rows:,} rows, {size:.0f} MiB CSV, median of {repeat} (to_sql once), PostgreSQL")
    print(f"{'method':28} {'seconds':>8} {'ours/this':>10}")
    print(f"{'om.datasets.read_csv':28} {ours_s:8.2f} {1:9.2f}x")
    copy_label = "psql \\copy"
    print(f"{copy_label:28} {copy_s:8.2f} {ours_s / copy_s:9.2f}x")
    print(f"{'pd.read_csv + to_sql':28} {t_sql:8.2f} {ours_s / t_sql:9.2f}x")
    print("target: read_csv within 1.5x of \\copy")
    engine.dispose()


if __name__ == "__main__":
    main()
