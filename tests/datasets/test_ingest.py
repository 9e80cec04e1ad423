"""Streamed CSV ingest and export: atomic, bounded memory, clear errors, URLs and gzip."""

from __future__ import annotations

import gzip
import http.server
import io
import threading
import tracemalloc
from functools import partial

import numpy as np
import pandas as pd
import pytest

from omega_jupyter.exceptions import IngestError


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.random(n),
            "city": rng.choice(["New York", "Paris", "Zürich"], n),
            "flag": rng.random(n) > 0.5,
        }
    )


def test_read_csv_equals_pandas(om, tmp_path):
    df = _frame(1000)
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    seen = []
    meta = om.datasets.read_csv(path, "data", chunksize=300, progress=lambda d, t: seen.append(d))
    assert meta.kind_meta["rows"] == 1000
    pd.testing.assert_frame_equal(om.datasets.get("data"), pd.read_csv(path))
    assert seen[-1] == 1000
    om.datasets.read_csv(path, "data", chunksize=300, append=True)
    assert len(om.datasets.get("data")) == 2000
    assert om.datasets.get("data").index.is_unique


def test_gzip_filelike_and_kwargs(om, tmp_path):
    df = _frame(50)
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wt") as fh:
        df.to_csv(fh, index=False, sep=";")
    om.datasets.read_csv(path, "gz", chunksize=7, sep=";")
    pd.testing.assert_frame_equal(om.datasets.get("gz"), pd.read_csv(path, sep=";"))
    buf = io.BytesIO(df.to_csv(index=False).encode())
    om.datasets.read_csv(buf, "buf", chunksize=20, usecols=["id", "city"])
    pd.testing.assert_frame_equal(om.datasets.get("buf"), df[["id", "city"]])


def test_http_url_streamed(om, tmp_path):
    _frame(200).to_csv(tmp_path / "remote.csv", index=False)
    handler = partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/remote.csv"
        om.datasets.read_csv(url, "remote", chunksize=64)
        pd.testing.assert_frame_equal(
            om.datasets.get("remote"), pd.read_csv(tmp_path / "remote.csv")
        )
        with pytest.raises(IngestError, match=r"missing\.csv"):
            om.datasets.read_csv(url.replace("remote", "missing"), "missing")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(IngestError, match=r"127\.0\.0\.1:9"):
        om.datasets.read_csv("http://127.0.0.1:9/x.csv", "unreachable")
    assert not om.datasets.exists("missing") and not om.datasets.exists("unreachable")


def test_later_chunk_that_does_not_fit(om, tmp_path):
    path = tmp_path / "bad.csv"
    lines = ["a,b"] + [f"{i},{i * 2}" for i in range(100)] + ["oops,3"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError, match=r"row 101 column 'a'.*'oops'"):
        om.datasets.read_csv(path, "bad", chunksize=30)
    assert not om.datasets.exists("bad")
    om.datasets.read_csv(path, "bad", chunksize=30, dtype={"a": "str"})
    assert om.datasets.get("bad")["a"].iloc[-1] == "oops"


def test_malformed_csv(om, tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(IngestError, match=r"ragged\.csv"):
        om.datasets.read_csv(ragged, "ragged")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,b\n1,Z\xfcrich\n".encode("latin-1"))
    with pytest.raises(IngestError, match=r"latin\.csv"):
        om.datasets.read_csv(latin, "latin")
    with pytest.raises(IngestError, match="no such file"):
        om.datasets.read_csv(tmp_path / "none.csv", "none")
    assert om.datasets.list() == []


def test_memory_does_not_grow_with_file(om, tmp_path):
    chunk = 2_000

    def peak(rows: int) -> int:
        path = tmp_path / f"f{rows}.csv"
        _frame(rows, seed=rows).to_csv(path, index=False)
        tracemalloc.start()
        om.datasets.read_csv(path, f"m{rows}", chunksize=chunk)
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    peak(chunk)  # warm up: first-use imports and caches are not the file's cost
    small, large = peak(3 * chunk), peak(20 * chunk)
    # about seven times the rows, yet the peak stays within the same few chunks' worth
    assert large < small * 1.3, (small, large)


def test_to_csv_round_trip(om, tmp_path):
    df = _frame(300)
    om.datasets.put(df, "out")
    assert om.datasets.to_csv("out", tmp_path / "out.csv", chunksize=100) == 300
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out.csv"), df)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args, **kwargs) -> None:
        pass
