"""Shared pieces of the benchmarks: timing rounds, peak-memory probes, targets and tables."""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


# ---------------------------------------------------------------------------------------------
# timing
@dataclass
class Method:
    """One way of doing the measured thing.

    ``run(trial)`` is timed; ``cleanup(trial, result)`` (not timed) undoes what it created, so
    every trial starts from the same state.
    """

    name: str
    run: Callable[[int], Any]
    cleanup: Callable[[int, Any], None] | None = None
    role: str = "baseline"  # "ours", "baseline" (raw database path), "reference", "slow"
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU seconds of this process (client side)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """(max - min) / median: how much the trials disagreed (noise from other load)."""
        if len(self.times) < 2:
            return 0.0
        return (max(self.times) - min(self.times)) / self.median


def run_rounds(methods: list[Method], repeat: int, log: Callable[[str], None]) -> None:
    """Time every method ``repeat`` times, round-robin, so load from other processes on the
    machine falls on all methods alike instead of on whichever ran during a busy minute."""
    for trial in range(repeat):
        for method in methods:
            gc.collect()
            start, cpu_start = time.perf_counter(), time.process_time()
            result = method.run(trial)
            elapsed = time.perf_counter() - start
            method.times.append(elapsed)
            method.cpu.append(time.process_time() - cpu_start)
            log(
                f"  round {trial + 1}/{repeat}  {method.name:<38} {elapsed:8.3f} s"
                f"  (client CPU {method.cpu[-1]:.3f} s)"
            )
            if method.cleanup is not None:
                method.cleanup(trial, result)
            del result


def median_seconds(fn: Callable[[], object], repeat: int, warmup: bool = False) -> float:
    """The median wall time of ``repeat`` calls of ``fn`` (after one untimed call with
    ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------
# scratch databases
def scratch_args(default_rows: int = 1_000_000, default_repeat: int = 3) -> argparse.Namespace:
    """``--rows``, ``--repeat`` and ``--url`` (the PostgreSQL server of the scratch database)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=default_rows)
    parser.add_argument("--repeat", type=int, default=default_repeat)
    parser.add_argument("--url", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    return parser.parse_args()


@contextmanager
def scratch_database(url: str, prefix: str) -> Iterator[Any]:
    """A new, empty PostgreSQL database on the server of ``url`` (its ``sa.URL``), dropped
    afterwards with the omega_jupyter engines that were opened on it."""
    import sqlalchemy as sa

    import omega_jupyter
    from omega_jupyter.storage import tenancy
    from omega_jupyter.storage.engine import _engines

    scratch = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
    try:
        yield sa.make_url(url).set(database=scratch)
    finally:
        omega_jupyter.reset_default()
        for db in _engines.values():
            db.dispose()
        own = sa.create_engine(sa.make_url(url).set(database=scratch))
        with own.begin() as conn:  # roles are the cluster's: drop this database's first
            tenancy.drop_roles(conn)
        own.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


# ---------------------------------------------------------------------------------------------
# memory (Linux /proc: resident set size and its high-water mark)
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} missing from /proc/self/status")


def rss_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    return _status_kib("VmHWM") * 1024


def reset_peak_rss() -> None:
    """Reset the high-water mark to the current RSS (writing 5 to clear_refs, Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def release_free_memory() -> None:
    """Hand memory freed earlier back to the system, so a later peak is not hidden by
    allocations that reuse it (glibc keeps freed heap pages; Arrow's pool keeps its own)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the measured growth may come out lower than the truth
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:
        pass


def measure_peak_growth(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``fn`` and return (peak RSS during it minus RSS before it, its result)."""
    release_free_memory()
    before = rss_bytes()
    reset_peak_rss()
    result = fn()
    return peak_rss_bytes() - before, result


# ---------------------------------------------------------------------------------------------
# targets and output
@dataclass
class Target:
    """A goal such as "put within 1.3x of the fastest raw load" or "8x faster than to_sql"."""

    label: str
    ratio: float  # the measured ratio, in the direction the goal is stated
    goal: float
    at_most: bool  # True: ratio <= goal is met; False: ratio >= goal is met

    @property
    def met(self) -> bool:
        return self.ratio <= self.goal if self.at_most else self.ratio >= self.goal

    def row(self) -> list[str]:
        sign = "<=" if self.at_most else ">="
        return [self.label, f"{self.ratio:.2f}x", f"{sign} {self.goal:g}x", _verdict(self.met)]


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        parts = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def timing_rows(methods: list[Method], ours: Method) -> list[list[str]]:
    """Rows of median wall seconds, spread, median CPU seconds spent in this process (less
    sensitive to other load than wall time, but blind to the server's work), ours / this."""
    rows = []
    for method in methods:
        ratio = "-" if method is ours else f"{ours.median / method.median:.2f}x"
        rows.append(
            [
                method.name,
                method.role,
                f"{method.median:.3f}",
                f"{min(method.times):.3f}",
                f"{max(method.times):.3f}",
                f"{100 * method.spread:.0f}%",
                f"{statistics.median(method.cpu):.3f}",
                ratio,
            ]
        )
    return rows


TIMING_HEADERS = [
    "method",
    "role",
    "median s",
    "min s",
    "max s",
    "spread",
    "client CPU s",
    "ours / this",
]


def machine_load() -> str:
    """The 1/5/15-minute load averages and the CPU count, to judge how noisy a run was."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"
