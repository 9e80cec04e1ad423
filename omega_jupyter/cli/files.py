"""Local files in and out of the store: formats chosen by extension, files streamed in chunks."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from omega_jupyter.progress import Progress

# Extensions read as tables; anything else is stored as a file unless --kind says otherwise.
TABLE_FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
FILE_KIND = "python.file"
FRAME_KINDS = ("pandas.dataframe", "pandas.series")
COPY_CHUNK = 1 << 20


def table_format(path: str | Path) -> str | None:
    """The table format of ``path`` by extension (case-insensitive), or None."""
    name = Path(path).name.lower()
    for ext in sorted(TABLE_FORMATS, key=len, reverse=True):
        if name.endswith(ext):
            return TABLE_FORMATS[ext]
    return None


def known_extensions() -> str:
    return ", ".join(TABLE_FORMATS)


# -- reading ------------------------------------------------------------------------------------
def read_table(path: Path, fmt: str) -> pd.DataFrame:
    """Read a table file; parse errors become ``ValueError`` naming the file and format."""
    try:
        if fmt == "csv":
            return pd.read_csv(path)
        if fmt == "tsv":
            return pd.read_csv(path, sep="\t")
        if fmt == "parquet":
            return pd.read_parquet(path)
        if fmt == "jsonl":
            return pd.read_json(path, lines=True)
        return pd.read_json(path)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # pandas and pyarrow raise many types for malformed input
        hint = " (use --kind python.data for JSON that is not a table)" if "json" in fmt else ""
        raise ValueError(f"cannot read {path} as {fmt.upper()}: {exc}{hint}") from exc


def read_python_data(path: Path, fmt: str | None) -> Any:
    """JSON (or JSON lines) as Python data."""
    try:
        with path.open(encoding="utf-8") as handle:
            if fmt == "jsonl":
                return [json.loads(line) for line in handle if line.strip()]
            if fmt == "json":
                return json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path} as JSON: {exc}") from exc
    raise ValueError(f"kind python.data reads .json or .jsonl files, not {path.name}")


def read_array(path: Path) -> np.ndarray:
    if not path.name.lower().endswith(".npy"):
        raise ValueError(f"kind numpy.ndarray reads .npy files, not {path.name}")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"cannot read {path} as a numpy array: {exc}") from exc


def load(path: Path, kind: str | None) -> tuple[Any, str]:
    """What to store for ``path`` and with which kind (files are returned as paths)."""
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    fmt = table_format(path)
    if kind == FILE_KIND or (kind is None and fmt is None):
        return path, FILE_KIND
    if kind is None or kind in FRAME_KINDS:
        if fmt is None:
            raise ValueError(
                f"cannot read {path.name} as a table: unknown extension "
                f"(use one of {known_extensions()}, or --kind {FILE_KIND})"
            )
        frame = read_table(path, fmt)
        if kind == "pandas.series":
            if frame.shape[1] != 1:
                raise ValueError(
                    f"kind pandas.series needs one column, {path} has {frame.shape[1]}"
                )
            return frame.iloc[:, 0], kind
        return frame, "pandas.dataframe"
    if kind == "python.data":
        return read_python_data(path, fmt), kind
    if kind == "numpy.ndarray":
        return read_array(path), kind
    raise ValueError(f"the command line cannot read files as kind {kind!r}")


class ProgressReader(io.RawIOBase):
    """A binary file that reports the bytes read so far to ``progress(done, total)``."""

    def __init__(self, handle: IO[bytes], total: int | None, progress: Progress | None) -> None:
        super().__init__()
        self._handle = handle
        self._total = total
        self._progress = progress
        self._done = 0
        self.name = getattr(handle, "name", None)  # keeps the file name in the metadata

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        n = self._handle.readinto(target)  # type: ignore[attr-defined]
        self._done += n or 0
        if self._progress is not None:
            self._progress(self._done, self._total)
        return n or 0


# -- writing ------------------------------------------------------------------------------------
@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path next to ``target`` renamed onto it on success, removed on failure.

    The temporary name ends with the target's name so pandas still infers compression.
    """
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(target))
    if not target.parent.exists():
        raise FileNotFoundError(2, "No such directory", str(target.parent))
    temp = target.with_name(f".om-{uuid.uuid4().hex[:8]}-{target.name}")
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_frame(df: pd.DataFrame | pd.Series, target: Path, fmt: str) -> None:
    """Write a frame in ``fmt``; the index is kept when it carries information."""
    if isinstance(df, pd.Series):
        df = df.to_frame()
    default_index = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    with atomic_path(target) as temp:
        if fmt == "parquet":
            df.to_parquet(temp)
            return
        flat = df if default_index else df.reset_index()
        if fmt in ("csv", "tsv"):
            flat.to_csv(temp, index=False, sep="\t" if fmt == "tsv" else ",")
        else:
            flat.to_json(temp, orient="records", date_format="iso", lines=fmt == "jsonl")


def write_python_data(data: Any, target: Path, fmt: str | None) -> None:
    if fmt not in ("json", "jsonl"):
        raise ValueError(f"Python data is written as .json or .jsonl, not {target.name}")
    with atomic_path(target) as temp, temp.open("w", encoding="utf-8") as handle:
        if fmt == "jsonl" and isinstance(data, list | tuple):
            handle.writelines(json.dumps(item) + "\n" for item in data)
        else:
            json.dump(data, handle)


def write_array(array: np.ndarray, target: Path) -> None:
    if not target.name.lower().endswith(".npy"):
        raise ValueError(f"numpy arrays are written as .npy, not {target.name}")
    with atomic_path(target) as temp, temp.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)


def copy_stream(
    source: IO[bytes], sink: IO[bytes], total: int | None, progress: Progress | None
) -> int:
    """Copy in 1 MB chunks (never the whole content in memory); returns the bytes copied."""
    done = 0
    if progress is not None:
        progress(0, total)
    while chunk := source.read(COPY_CHUNK):
        sink.write(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return done
