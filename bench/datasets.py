"""Bulk write and read of a DataFrame on PostgreSQL: ``om.datasets`` against the raw paths.

    python bench/datasets.py [--rows 1000000] [--repeat 3] [--url postgresql+psycopg://...]

Writes: our ``put`` vs ``DataFrame.to_sql`` vs psycopg binary ``COPY`` vs ADBC ``adbc_ingest``
vs Parquet on local disk. Reads: our ``get`` vs ``pd.read_sql_table`` vs ADBC
``fetch_arrow_table().to_pandas()`` vs ``COPY … TO STDOUT`` CSV + pyarrow csv vs Parquet.
Every method runs ``--repeat`` times round-robin in the same process and the medians are
compared. Peak memory of put and get is measured in fresh child processes. Every table the
benchmark creates is dropped again.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from _common import (
    TIMING_HEADERS,
    Method,
    Target,
    format_table,
    machine_load,
    measure_peak_growth,
    mib,
    run_rounds,
    timing_rows,
)

import omega_jupyter

DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
RAW_SCHEMA = "omega_bench_raw"  # the baselines' tables; dropped at the end
DATASET = "bench_frame"
REGIONS = ["north", "south", "east", "west", "central", "export", "online", "retail"]
PUT_RAW_GOAL, PUT_TO_SQL_GOAL = 1.3, 8.0
GET_RAW_GOAL, GET_READ_SQL_GOAL = 1.3, 3.0
PUT_MEMORY_GOAL, GET_MEMORY_GOAL = 1.0, 1.5  # frame sizes: get = its result + half a copy


# ---------------------------------------------------------------------------------------------
# data
def make_frame(rows: int, seed: int = 42) -> pd.DataFrame:
    """10 columns: 3 ints, 4 floats, a datetime, a low-cardinality and a 20-character string."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype="u1")
    codes = alphabet[rng.integers(0, len(alphabet), size=(rows, 20))].view("S20").ravel()
    seconds = rng.integers(0, 5 * 365 * 86400, rows).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "customer": rng.integers(0, 100_000, rows),
            "quantity": rng.integers(1, 1_000, rows),
            "price": rng.random(rows) * 100,
            "discount": rng.random(rows),
            "weight": rng.normal(50, 10, rows),
            "score": rng.standard_normal(rows),
            "ordered_at": (np.datetime64("2020-01-01T00:00:00") + seconds).astype("M8[ns]"),
            "region": pd.Series(
                np.array(REGIONS)[rng.integers(0, len(REGIONS), rows)], dtype="str"
            ),
            "code": pd.Series(codes.astype("U20"), dtype="str"),
        }
    )


def frame_bytes(df: pd.DataFrame) -> int:
    return int(df.memory_usage(index=True, deep=True).sum())


def pg_type(dtype: Any) -> str:
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp"
    return "text"


# ---------------------------------------------------------------------------------------------
# connections and tables
@dataclass
class Bench:
    """What every method needs: the client, raw connections, the frame, a scratch folder."""

    url: str
    bucket: str
    df: pd.DataFrame
    workdir: Path
    om: Any = None
    engine: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.om = omega_jupyter.setup(url=self.url, bucket=self.bucket)
        self.engine = sa.create_engine(self.url)

    @property
    def libpq_url(self) -> str:
        return sa.make_url(self.url).set(drivername="postgresql").render_as_string(False)

    def psycopg(self) -> Any:
        import psycopg

        return psycopg.connect(self.libpq_url)

    def adbc(self) -> Any:
        import adbc_driver_postgresql.dbapi as adbc_pg

        return adbc_pg.connect(self.libpq_url)

    def ddl(self, table: str) -> str:
        cols = ", ".join(f'"{c}" {pg_type(t)}' for c, t in self.df.dtypes.items())
        return f'CREATE TABLE "{RAW_SCHEMA}"."{table}" ({cols})'

    def drop_table(self, table: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{RAW_SCHEMA}"."{table}"'))

    def setup_schema(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{RAW_SCHEMA}"'))

    def teardown(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{RAW_SCHEMA}" CASCADE'))
            self.om.datasets.drop(DATASET, force=True)
        finally:
            self.engine.dispose()
            self.om.db.dispose()


def table_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------
# writes
def write_to_sql(b: Bench, df: pd.DataFrame) -> str:
    name = table_name("to_sql")
    df.to_sql(name, b.engine, schema=RAW_SCHEMA, index=False)
    return name


def write_copy_binary(b: Bench, df: pd.DataFrame) -> str:
    """psycopg binary COPY, one ``write_row`` per row (columns turned into Python values)."""
    name = table_name("copy")
    columns = []
    for col, dtype in df.dtypes.items():
        series = df[col]
        if pd.api.types.is_datetime64_dtype(dtype):
            columns.append(series.array.to_pydatetime())
        else:
            columns.append(series.tolist())
    cols = ", ".join(f'"{c}"' for c in df.columns)
    with b.psycopg() as conn, conn.cursor() as cur:
        cur.execute(b.ddl(name))
        sql = f'COPY "{RAW_SCHEMA}"."{name}" ({cols}) FROM STDIN (FORMAT BINARY)'
        with cur.copy(sql) as copy:
            copy.set_types([pg_type(t) for t in df.dtypes])
            for row in zip(*columns, strict=True):
                copy.write_row(row)
    return name


def write_adbc(b: Bench, df: pd.DataFrame) -> str:
    name = table_name("adbc")
    table = pa.Table.from_pandas(df, preserve_index=False)
    with b.adbc() as conn, conn.cursor() as cur:
        cur.adbc_ingest(name, table, mode="create", db_schema_name=RAW_SCHEMA)
        conn.commit()
    return name


def write_parquet(b: Bench, df: pd.DataFrame) -> Path:
    path = b.workdir / f"{uuid.uuid4().hex}.parquet"
    df.to_parquet(path, index=False)
    return path


def write_methods(b: Bench) -> list[Method]:
    df = b.df

    def put(_trial: int) -> None:
        b.om.datasets.put(df, DATASET)

    def drop_ours(_trial: int, _result: Any) -> None:
        b.om.datasets.drop(DATASET, force=True)

    def drop_table(_trial: int, name: str) -> None:
        b.drop_table(name)

    return [
        Method("om.datasets.put", put, drop_ours, role="ours"),
        Method("psycopg COPY binary (write_row)", lambda _: write_copy_binary(b, df), drop_table),
        Method("ADBC adbc_ingest", lambda _: write_adbc(b, df), drop_table),
        Method("DataFrame.to_sql (SQLAlchemy)", lambda _: write_to_sql(b, df), drop_table, "slow"),
        Method("Parquet to local disk", lambda _: write_parquet(b, df), _unlink, "reference"),
    ]


def _unlink(_trial: int, path: Path) -> None:
    path.unlink()


# ---------------------------------------------------------------------------------------------
# reads
def read_sql_table(b: Bench, name: str) -> pd.DataFrame:
    return pd.read_sql_table(name, b.engine, schema=RAW_SCHEMA)


def read_adbc(b: Bench, name: str) -> pd.DataFrame:
    with b.adbc() as conn, conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{RAW_SCHEMA}"."{name}"')
        return cur.fetch_arrow_table().to_pandas()


def read_copy_csv(b: Bench, name: str) -> pd.DataFrame:
    """``COPY … TO STDOUT`` as CSV into memory, parsed by pyarrow with the known column types."""
    buffer = io.BytesIO()
    with b.psycopg() as conn, conn.cursor() as cur:
        sql = f'COPY "{RAW_SCHEMA}"."{name}" TO STDOUT (FORMAT CSV, HEADER)'
        with cur.copy(sql) as copy:
            for data in copy:
                buffer.write(data)
    buffer.seek(0)
    types = {c: _arrow_type(t) for c, t in b.df.dtypes.items()}
    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    return pacsv.read_csv(buffer, convert_options=options).to_pandas()


def _arrow_type(dtype: Any) -> pa.DataType:
    return {
        "bigint": pa.int64(),
        "double precision": pa.float64(),
        "timestamp": pa.timestamp("us"),
        "text": pa.string(),
    }[pg_type(dtype)]


def prepare_reads(b: Bench) -> tuple[str, Path]:
    """Store the frame once for each reader: our dataset, a plain table, a Parquet file."""
    b.om.datasets.put(b.df, DATASET)
    name = table_name("read")
    with b.adbc() as conn, conn.cursor() as cur:
        cur.execute(b.ddl(name))
        table = pa.Table.from_pandas(b.df, preserve_index=False)
        cur.adbc_ingest(name, table, mode="append", db_schema_name=RAW_SCHEMA)
        conn.commit()
    return name, write_parquet(b, b.df)


def read_methods(b: Bench, table: str, parquet: Path) -> list[Method]:
    rows = len(b.df)

    def check(_trial: int, result: pd.DataFrame) -> None:
        if len(result) != rows or result.shape[1] != b.df.shape[1]:
            raise RuntimeError(f"read returned shape {result.shape}, expected {b.df.shape}")

    return [
        Method("om.datasets.get", lambda _: b.om.datasets.get(DATASET), check, role="ours"),
        Method("ADBC fetch_arrow_table().to_pandas()", lambda _: read_adbc(b, table), check),
        Method("COPY TO CSV + pyarrow csv", lambda _: read_copy_csv(b, table), check),
        Method("pd.read_sql_table (SQLAlchemy)", lambda _: read_sql_table(b, table), check, "slow"),
        Method("Parquet from local disk", lambda _: pd.read_parquet(parquet), check, "reference"),
    ]


# ---------------------------------------------------------------------------------------------
# memory, in a fresh process so that earlier allocations do not hide the peak
def memory_probe(op: str, url: str, bucket: str, rows: int) -> dict:
    """Peak RSS growth of one put of a frame, or one get of a stored dataset."""
    om = omega_jupyter.setup(url=url, bucket=bucket)
    warm = f"bench_warmup_{uuid.uuid4().hex[:8]}"
    om.datasets.put(make_frame(1000), warm)  # load the drivers and create the schema first
    om.datasets.get(warm)
    om.datasets.drop(warm)
    name = f"bench_memory_{uuid.uuid4().hex[:8]}"
    df = make_frame(rows)
    try:
        if op == "put":
            growth, _ = measure_peak_growth(lambda: om.datasets.put(df, name))
        else:
            om.datasets.put(df, name)
            del df
            growth, df = measure_peak_growth(lambda: om.datasets.get(name))
        return {"growth": growth, "frame": frame_bytes(df)}
    finally:
        om.datasets.drop(name, force=True)
        om.db.dispose()


def run_memory_probe(op: str, args: argparse.Namespace) -> dict:
    """Run :func:`memory_probe` in a child process, in its own scratch database unless
    ``--use-database``: the child imports the package afresh, and its schema must match."""
    cmd = [sys.executable, __file__, "--memory-probe", op, "--rows", str(args.rows)]
    cmd += ["--url", args.server_url, "--bucket", args.bucket]
    cmd += ["--use-database"] if args.use_database else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe for {op} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def probe_main(args: argparse.Namespace) -> int:
    url = args.url if args.use_database else create_scratch_database(args.url)
    try:
        print(json.dumps(memory_probe(args.memory_probe, url, args.bucket, args.rows)))
    finally:
        if not args.use_database:
            drop_database(args.url, url)
    return 0


# ---------------------------------------------------------------------------------------------
# report
def fastest(methods: list[Method], role: str = "baseline") -> Method:
    return min((m for m in methods if m.role == role), key=lambda m: m.median)


def targets(writes: list[Method], reads: list[Method]) -> list[Target]:
    put, get = writes[0], reads[0]
    raw_write, raw_read = fastest(writes), fastest(reads)
    to_sql = next(m for m in writes if m.role == "slow")
    read_sql = next(m for m in reads if m.role == "slow")
    return [
        Target(f"put / fastest raw load ({raw_write.name})", put.median / raw_write.median,
               PUT_RAW_GOAL, at_most=True),
        Target("to_sql / put (speed-up)", to_sql.median / put.median, PUT_TO_SQL_GOAL,
               at_most=False),
        Target(f"get / fastest raw read ({raw_read.name})", get.median / raw_read.median,
               GET_RAW_GOAL, at_most=True),
        Target("read_sql_table / get (speed-up)", read_sql.median / get.median,
               GET_READ_SQL_GOAL, at_most=False),
    ]  # fmt: skip


def memory_rows(put: dict, get: dict) -> tuple[list[list[str]], list[Target]]:
    rows, goals = [], []
    for op, probe, goal in (("put", put, PUT_MEMORY_GOAL), ("get", get, GET_MEMORY_GOAL)):
        ratio = probe["growth"] / probe["frame"]
        rows.append(
            [f"om.datasets.{op}", mib(probe["frame"]), mib(probe["growth"]), f"{ratio:.2f}x"]
        )
        goals.append(Target(f"{op} peak RSS growth / frame size", ratio, goal, at_most=True))
    return rows, goals


def print_timings(args: argparse.Namespace, writes: list[Method], reads: list[Method]) -> None:
    print(f"\nrows={args.rows:,}  repeat={args.repeat}  (medians; spread = (max-min)/median)")
    print("\nWRITES\n" + format_table(TIMING_HEADERS, timing_rows(writes, writes[0])))
    print("\nREADS\n" + format_table(TIMING_HEADERS, timing_rows(reads, reads[0])), flush=True)


def print_targets(writes: list[Method], reads: list[Method], memory: tuple | None) -> None:
    goals = targets(writes, reads)
    if memory is not None:
        mem_rows, mem_goals = memory
        headers = ["operation", "frame (deep)", "peak RSS growth", "growth / frame"]
        print("\nMEMORY (fresh process each)\n" + format_table(headers, mem_rows))
        goals += mem_goals
    rows = [g.row() for g in goals]
    print("\nTARGETS\n" + format_table(["target", "measured", "goal", "verdict"], rows))


# ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", default=DEFAULT_URL, help="a PostgreSQL SQLAlchemy URL")
    parser.add_argument("--bucket", default="bench", help="the bucket our datasets go to")
    parser.add_argument(
        "--use-database",
        action="store_true",
        help="run inside the --url database itself (its schema must be current) instead of "
        "a scratch database created next to it and dropped at the end",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument("--memory-probe", choices=["put", "get"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.url.startswith("postgresql"):
        parser.error(
            "this benchmark compares PostgreSQL paths: --url must be postgresql+psycopg://…"
        )
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def create_scratch_database(url: str) -> str:
    """A new empty database on the server of ``url``; the store creates its schema in it."""
    name = f"omega_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return sa.make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = sa.make_url(url).database
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def measure(args: argparse.Namespace, b: Bench) -> tuple[list[Method], list[Method], Any]:
    """Warm up, time the writes and the reads, print them, then probe peak memory."""
    warm = Bench(b.url, b.bucket, b.df.head(1000), b.workdir)
    run_rounds(write_methods(warm), 1, lambda _: None)
    warm.engine.dispose()
    log("writes:")
    writes = write_methods(b)
    run_rounds(writes, args.repeat, log)
    table, parquet = prepare_reads(b)
    pd.testing.assert_frame_equal(b.om.datasets.get(DATASET), b.df)
    log("round trip get(put(df)) == df: exact. reads:")
    reads = read_methods(b, table, parquet)
    run_rounds(reads, 1, lambda _: None)  # first reads of fresh tables pay for hint bits
    for method in reads:
        method.times.clear()
        method.cpu.clear()
    run_rounds(reads, args.repeat, log)
    print_timings(args, writes, reads)  # before the probes: a failed probe keeps the timings
    memory = None
    if not args.no_memory:
        log("memory probes (fresh processes)")
        try:
            memory = memory_rows(run_memory_probe("put", args), run_memory_probe("get", args))
        except RuntimeError as exc:
            log(str(exc))
    return writes, reads, memory


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        return probe_main(args)
    started = time.perf_counter()
    log(f"generating {args.rows:,} rows; {machine_load()}")
    df = make_frame(args.rows)
    log(f"frame: {mib(frame_bytes(df))} in pandas")
    server_url = args.server_url = args.url
    if not args.use_database:
        args.url = create_scratch_database(server_url)
        log(f"scratch database {sa.make_url(args.url).database} (dropped at the end)")
    try:
        with tempfile.TemporaryDirectory(prefix="omega-bench-") as tmp:
            b = Bench(args.url, args.bucket, df, Path(tmp))
            b.setup_schema()
            try:
                writes, reads, memory = measure(args, b)
            finally:
                b.teardown()
    finally:
        if not args.use_database:
            drop_database(server_url, args.url)
    print_targets(writes, reads, memory)
    print(f"\n{machine_load()} at the end; total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
