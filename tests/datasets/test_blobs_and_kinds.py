"""numpy arrays, Python data and files: kinds chosen by type, chunked, streamed both ways."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import (
    InvalidFilterError,
    ObjectNotFoundError,
    UnsupportedObjectError,
)


# -- numpy ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype="int8").reshape(3, 4),
        np.array([2**64 - 1, 0], dtype="uint64"),
        np.linspace(0, 1, 24, dtype="float32").reshape(2, 3, 4),
        np.array([np.nan, np.inf, -0.0]),
        np.array([1 + 2j], dtype="complex128"),
        np.array([True, False]),
        np.array(["2024-01-01T00:00:00.000000001", "NaT"], dtype="datetime64[ns]"),
        np.array(["ab", "ü✓"], dtype="<U2"),
        np.zeros((0, 5)),
        np.array(3.5),
        np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),
    ],
    ids=[
        "int8-2d",
        "uint64",
        "float32-3d",
        "special",
        "complex",
        "bool",
        "datetime",
        "unicode",
        "empty",
        "scalar",
        "structured",
    ],
)
def test_ndarray_roundtrip_keeps_dtype_and_shape(om, array):
    meta = om.datasets.put(array, "arr")
    assert meta.kind == "numpy.ndarray"
    out = om.datasets.get("arr")
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_ndarray_fortran_order(om):
    array = np.asfortranarray(np.arange(20, dtype="int64").reshape(4, 5))
    om.datasets.put(array, "arr")
    out = om.datasets.get("arr")
    assert out.flags.f_contiguous and not out.flags.c_contiguous
    np.testing.assert_array_equal(out, array)


def test_object_arrays_are_refused(om):
    with pytest.raises(UnsupportedObjectError, match="objects"):
        om.datasets.put(np.array([{"a": 1}, None], dtype=object), "arr")
    assert not om.datasets.exists("arr")


# -- Python data ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        {"a": 1, "b": [1.5, None, "x"], "nested": {"ü": True}},
        [1, "two", 3.0, None, [4]],
        (1, 2, "three"),
        {},
        [],
        {"big": 2**62, "nan": float("nan")},
    ],
    ids=["dict", "list", "tuple", "empty-dict", "empty-list", "numbers"],
)
def test_python_data_roundtrip(om, data):
    meta = om.datasets.put(data, "data")
    assert meta.kind == "python.data"
    out = om.datasets.get("data")
    assert type(out) is type(data)
    assert repr(out) == repr(data)  # repr: nan compares unequal to itself


def test_python_data_that_is_not_json(om):
    with pytest.raises(UnsupportedObjectError, match="JSON"):
        om.datasets.put({"when": pd.Timestamp("2024-01-01")}, "data")
    assert not om.datasets.exists("data")


def test_columns_and_filters_apply_to_frames_only(om):
    om.datasets.put({"a": 1}, "data")
    with pytest.raises(InvalidFilterError):
        om.datasets.get("data", a__eq=1)
    with pytest.raises(InvalidFilterError):
        om.datasets.get("data[a]")


# -- files ---------------------------------------------------------------------------------------
def test_bytes_and_bytearray(om):
    for i, payload in enumerate([b"", b"\x00\xff" * 1000, bytearray(b"abc"), memoryview(b"mv")]):
        meta = om.datasets.put(payload, f"f{i}")
        assert meta.kind == "python.file" and meta.size == len(bytes(payload))
        assert om.datasets.get(f"f{i}").read() == bytes(payload)


def test_binary_file_object_spanning_chunks(om):
    small = Omega(om.settings.replace(blob_chunk_bytes=1000))
    payload = bytes(range(256)) * 40  # 10 chunks and a bit
    meta = small.datasets.put(io.BytesIO(payload), "file")
    assert meta.size == len(payload)
    assert meta.kind_meta["sha256"] == hashlib.sha256(payload).hexdigest()
    reader = small.datasets.get("file")
    assert reader.read(10) == payload[:10]
    assert reader.read() == payload[10:]
    assert reader.read() == b""


def test_path_is_stored_as_file(om, tmp_path):
    path = tmp_path / "report.bin"
    path.write_bytes(b"content" * 100)
    meta = om.datasets.put(path, "report")
    assert meta.kind_meta["filename"] == "report.bin"
    assert om.datasets.get("report").read() == b"content" * 100
    with path.open("rb") as handle:
        om.datasets.put(handle, "handle")
    assert om.datasets.get("handle").read() == b"content" * 100


def test_text_mode_file_is_refused(om, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with path.open("r") as handle, pytest.raises(UnsupportedObjectError, match="binary"):
        om.datasets.put(handle, "notes")
    with pytest.raises(UnsupportedObjectError, match="binary"):
        om.datasets.put(io.StringIO("hello"), "notes")

    class TextReader:  # not an io.TextIOBase, yet read() returns text
        def read(self, size: int = -1) -> str:
            return "text"

    with pytest.raises(UnsupportedObjectError, match="binary"):
        om.datasets.put(TextReader(), "notes")
    assert not om.datasets.exists("notes")


def test_missing_path_is_refused(om, tmp_path):
    with pytest.raises(UnsupportedObjectError, match="not a file"):
        om.datasets.put(tmp_path / "nope.bin", "nope", kind="python.file")


@pytest.mark.parametrize("obj", [object(), 42, "just a string", {1, 2}, lambda: 1])
def test_unsupported_objects(om, obj):
    with pytest.raises(UnsupportedObjectError):
        om.datasets.put(obj, "x")
    assert not om.datasets.exists("x")


def test_unknown_or_mismatched_kind(om):
    with pytest.raises(UnsupportedObjectError, match="unknown kind"):
        om.datasets.put(pd.DataFrame({"a": [1]}), "x", kind="no.such.kind")
    with pytest.raises(UnsupportedObjectError):
        om.datasets.put([1, 2], "x", kind="pandas.dataframe")
    assert not om.datasets.exists("x")


def test_append_to_blob_kinds_is_refused(om):
    om.datasets.put(b"abc", "f")
    with pytest.raises(UnsupportedObjectError, match="append"):
        om.datasets.put(b"def", "f", append=True)
    assert om.datasets.get("f").read() == b"abc"


def test_reading_a_replaced_file_fails_instead_of_truncating(om):
    small = Omega(om.settings.replace(blob_chunk_bytes=100))
    small.datasets.put(b"a" * 1000, "f")
    reader = small.datasets.get("f")
    assert reader.read(150) == b"a" * 150
    small.datasets.put(b"b" * 1000, "f")  # the old chunks are deleted
    with pytest.raises(ObjectNotFoundError, match="replaced or dropped"):
        reader.read()


# -- bounded memory ------------------------------------------------------------------------------
class GeneratedStream(io.RawIOBase):
    """A read-only binary stream of ``size`` pseudo-random bytes, made as it is read."""

    def __init__(self, size: int, block: int = 256 * 1024) -> None:
        self.remaining = size
        self.rng = np.random.default_rng(7)
        self.block = block
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        n = min(len(buffer), self.remaining, self.block)
        if n <= 0:
            return 0
        data = self.rng.bytes(n)
        self.digest.update(data)
        buffer[:n] = data
        self.remaining -= n
        return n


def test_large_stream_uses_bounded_memory(om):
    size = 48 * 1024 * 1024
    store = Omega(om.settings.replace(blob_chunk_bytes=1024 * 1024))
    source = GeneratedStream(size)
    tracemalloc.start()
    try:
        meta = store.datasets.put(source, "big")
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        reader = store.datasets.get("big")
        digest, total = hashlib.sha256(), 0
        while block := reader.read(512 * 1024):
            digest.update(block)
            total += len(block)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert meta.size == total == size
    assert digest.hexdigest() == source.digest.hexdigest() == meta.kind_meta["sha256"]
    # A few chunks in flight at most, never the whole stream.
    assert put_peak < size / 6, put_peak
    assert get_peak < size / 6, get_peak
