"""Streamed CSV in and out: any size, bounded memory, atomic like ``put``.

``csv_batches`` parses the source in chunks with pandas, fixes the dtypes on the first chunk
and yields every chunk as record batches; :meth:`DatasetStore.read_csv` bulk-loads them into
one new table and makes it visible with a single metadata commit (or appends it), the same
write path as ``put``. A later chunk that does not fit the first chunk's dtypes stops the
load with an error naming the row; the half-loaded table is never visible.

Column names follow the rule of ``put``: duplicates are refused, never renamed. pandas
renames a repeated header (``a,a`` becomes ``a, a.1``), so the header line is read from the
first bytes of the source as it passes by (:class:`_HeadTap`) and checked.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from omega_jupyter.datasets import frame_codec
from omega_jupyter.exceptions import IngestError, SchemaMismatchError

_URL_TIMEOUT = 30


# -- sources --------------------------------------------------------------------------------
def check_encoding(encoding: Any) -> str:
    """``encoding`` if it names a text codec (``latin-1``, ``cp1252`` …), else IngestError:
    an unknown name and byte-to-byte codecs (``base64``, ``zlib``) read no text."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise IngestError(f"unknown encoding {encoding!r}; nothing was stored") from None
    if not getattr(info, "_is_text_encoding", True):
        raise IngestError(f"{encoding!r} is not a text encoding; nothing was stored")
    return encoding


def open_source(source: Any) -> tuple[Any, str, bool]:
    """A binary (or text) stream over ``source``, a printable name, and whether we own it."""
    if isinstance(source, str | Path) and str(source).startswith(("http://", "https://")):
        url = str(source)
        try:
            raw: Any = urllib.request.urlopen(url, timeout=_URL_TIMEOUT)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise IngestError(f"cannot read {url}: {reason}; nothing was stored") from exc
        name = url
    elif isinstance(source, str | Path):
        path = Path(source).expanduser()
        if not path.is_file():
            raise IngestError(f"no such file: {path}; nothing was stored")
        raw, name = path.open("rb"), str(path)
    elif hasattr(source, "read"):
        return source, getattr(source, "name", type(source).__name__), False
    else:
        raise IngestError(f"read_csv takes a path, an http(s) URL or a file object, not {source!r}")
    if name.split("?")[0].endswith(".gz"):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    return raw, name, True


# -- reading --------------------------------------------------------------------------------
def check_chunking(chunksize: int, pandas_kwargs: dict) -> None:
    """Refuse a bad ``chunksize`` and pandas options that would take chunking over."""
    if int(chunksize) < 1:
        raise ValueError("chunksize must be >= 1")
    for key in ("chunksize", "iterator"):
        if key in pandas_kwargs:
            raise ValueError(f"{key} is chosen by read_csv itself")


@contextmanager
def csv_batches(
    source: Any, chunksize: int, batch_rows: int, postgres: bool, pandas_kwargs: dict
) -> Iterator[tuple[dict, Iterator[pa.RecordBatch]]]:
    """Open ``source`` and give the ``kind_meta`` inferred from its first ``chunksize`` rows
    and all its rows as record batches of at most ``batch_rows`` rows; the source is closed
    on exit (if opened here)."""
    stream, label, owned = open_source(source)
    try:
        tapped, tap = _HeadTap.around(stream)
        reader = _chunks(tapped, label, chunksize, pandas_kwargs)
        first = next(reader, None)
        if first is None:
            raise IngestError(f"{label} holds no header and no rows; nothing was stored")
        _check_header(tap.head, label, pandas_kwargs)
        kind_meta = frame_codec.describe_frame(first, native_timestamps=postgres)
        frame_codec.check_storable(kind_meta, postgres)
        batches = _batches(first, reader, kind_meta, batch_rows, label)
        if postgres:
            batches = frame_codec.reject_nul_text(batches, kind_meta)
        yield kind_meta, batches
    finally:
        if owned:
            stream.close()


def _chunks(stream: Any, label: str, chunksize: int, kwargs: dict) -> Iterator[pd.DataFrame]:
    """pandas' chunked reader, with its errors turned into ones naming the source."""
    try:
        reader = pd.read_csv(stream, chunksize=chunksize, **kwargs)
        with reader:
            yield from reader
    except pd.errors.EmptyDataError:
        return
    except UnicodeDecodeError as exc:
        encoding = kwargs.get("encoding") or "utf-8"
        raise IngestError(
            f"{label}: not {encoding} text ({exc}); pass the file's encoding, for example "
            "encoding='latin-1' (--encoding latin-1); nothing was stored"
        ) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        if isinstance(exc, IngestError | SchemaMismatchError):
            raise
        raise IngestError(f"{label}: {exc}; nothing was stored") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise IngestError(f"{label}: reading failed: {exc}; nothing was stored") from exc


def _batches(
    first: pd.DataFrame,
    rest: Iterator[pd.DataFrame],
    kind_meta: dict,
    batch_rows: int,
    label: str,
) -> Iterator[pa.RecordBatch]:
    dtypes = first.dtypes
    offset = 0
    for chunk in _chain(first, rest):
        chunk = _conform(chunk, dtypes, kind_meta, offset, label)
        yield from frame_codec.encode_batches(chunk, kind_meta, batch_rows, row_offset=offset)
        offset += len(chunk)


def _chain(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


def _conform(
    chunk: pd.DataFrame, dtypes: pd.Series, kind_meta: dict, offset: int, label: str
) -> pd.DataFrame:
    """Give a later chunk the first chunk's dtypes, or fail naming the first row that
    does not fit. Lossless changes only: all-missing columns, ints into floats."""
    if list(chunk.columns) != list(dtypes.index):
        raise IngestError(f"{label}: the columns changed after row {offset}; nothing was stored")
    for i, (col, want) in enumerate(dtypes.items()):
        have = chunk.dtypes.iloc[i]
        if have == want:
            continue
        values = chunk.iloc[:, i]
        if values.isna().all() or (want.kind == "f" and have.kind in "iu"):
            chunk.isetitem(i, values.astype(want))
            continue
        if want.kind in "iufb":
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna() if want.kind == "f" else numbers.isna()
            if want.kind in "iu":
                bad |= numbers.notna() & (numbers != np.floor(numbers.fillna(0)))
        else:
            bad = values.notna() & values.map(lambda v: not isinstance(v, str))
        pos = int(np.argmax(bad.to_numpy())) if bad.any() else 0
        raise IngestError(
            f"{label}: row {offset + pos + 1} column {col!r} has value {values.iloc[pos]!r}, "
            f"which does not fit the dtype {want} inferred from the first chunk; pass "
            f"dtype={{{col!r}: ...}} (for example 'float64' or 'str'); nothing was stored"
        )
    return chunk


# -- the header -----------------------------------------------------------------------------
_HEAD_BYTES = 1 << 16  # a longer header line is not checked
# Options under which the first line is not simply the header row: not checked here.
_HEADER_OPTIONS = ("names", "header", "skiprows", "comment", "usecols", "delim_whitespace")


class _HeadTap(io.RawIOBase):
    """A binary stream passed through unchanged, keeping its first bytes."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream
        self.head = b""

    @classmethod
    def around(cls, stream: Any) -> tuple[Any, Any]:
        """The stream to read (buffered) and its tap, whose ``head`` holds the first bytes
        (text streams are tapped as text)."""
        if isinstance(stream, io.TextIOBase):
            text = _TextHeadTap(stream)
            return text, text
        tap = cls(stream)
        return io.BufferedReader(tap, buffer_size=1 << 16), tap

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        data = self._stream.read(len(target))
        if not data:
            return 0
        n = len(data)
        target[:n] = data
        if len(self.head) < _HEAD_BYTES and b"\n" not in self.head:
            self.head += bytes(data[: _HEAD_BYTES - len(self.head)])
        return n


class _TextHeadTap(io.TextIOBase):
    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream
        self._text = ""

    @property
    def head(self) -> str:
        return self._text

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        return self._keep(self._stream.read(size))

    def readline(self, size: int = -1) -> str:  # type: ignore[override]
        return self._keep(self._stream.readline(size))

    def _keep(self, data: str) -> str:
        if len(self._text) < _HEAD_BYTES and "\n" not in self._text:
            self._text += data[: _HEAD_BYTES - len(self._text)]
        return data


def _check_header(head: bytes | str, label: str, kwargs: dict) -> None:
    """Refuse a header row that names a column twice (the rule of ``put``)."""
    if any(key in kwargs for key in _HEADER_OPTIONS) or not head:
        return
    sep = kwargs.get("sep", kwargs.get("delimiter", ","))
    if not isinstance(sep, str) or len(sep) != 1:
        return
    if isinstance(head, bytes):
        encoding = kwargs.get("encoding") or "utf-8"
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"  # pandas drops a byte order mark
        head = head.decode(encoding, errors="replace")
    if len(head) >= _HEAD_BYTES and "\n" not in head:
        return  # the header is longer than what was kept
    lines = io.StringIO(head.lstrip("\r\n"), newline="")
    try:
        names = next(csv.reader(lines, delimiter=sep, quotechar=kwargs.get("quotechar", '"')))
    except (csv.Error, StopIteration):
        return
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dupes:
        raise IngestError(
            f"{label}: the header names column(s) {', '.join(map(repr, dupes))} more than "
            "once; column names must be unique (as for put); rename them in the file, or "
            "pass names=[...] with header=0; nothing was stored"
        )


# -- writing --------------------------------------------------------------------------------
def write_csv(chunks: Iterable[pd.DataFrame], target: Any, **kwargs: Any) -> int:
    """Write frames to one CSV (header once; gzip when the path ends in ``.gz``)."""
    kwargs.setdefault("index", False)
    rows = 0
    if hasattr(target, "write"):
        handle, owned = target, False
    else:
        path = Path(target).expanduser()
        opener = gzip.open if path.suffix == ".gz" else open
        handle, owned = opener(path, "wt", newline="", encoding="utf-8"), True
    try:
        header = kwargs.pop("header", True)
        for chunk in chunks:
            chunk.to_csv(handle, header=header, **kwargs)
            header = False
            rows += len(chunk)
    finally:
        if owned:
            handle.close()
    return rows


__all__ = ["check_chunking", "csv_batches", "open_source", "write_csv"]
