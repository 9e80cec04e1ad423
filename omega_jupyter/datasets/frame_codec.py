"""Lossless pandas <-> Arrow codec for storing DataFrames and Series as SQL tables.

Each stored column (data columns and index levels) is described by a *column spec* kept in
``kind_meta``: the user's label, a safe physical name, the exact pandas dtype and how its values
are stored (``sql``). Decoding uses the spec, not what the database reports, so dtypes that SQL
widens or lacks (int8, uint64, category, tz-aware or nanosecond datetimes, timedelta, nullable
extension types) come back exactly.
"""

from __future__ import annotations

import ctypes
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omega_jupyter.exceptions import UnsupportedObjectError

try:  # glibc: give freed heap pages back (see release_freed_memory)
    _LIBC: Any = ctypes.CDLL("libc.so.6")
    _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
except (OSError, AttributeError):  # not glibc
    _LIBC = None
from omega_jupyter.storage.bulk import SQL_ARROW
from omega_jupyter.storage.metadata import contains_nul

ROW_COLUMN = "_om_row"  # row order, 0..n-1
INDEX_PREFIX = "_om_ix"
_SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_RESERVED = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case",
    "cast", "check", "collate", "column", "constraint", "create", "current_catalog",
    "current_date", "current_role", "current_time", "current_timestamp", "current_user",
    "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch",
    "for", "foreign", "from", "grant", "group", "having", "in", "initially", "intersect", "into",
    "lateral", "leading", "limit", "localtime", "localtimestamp", "not", "null", "offset", "on",
    "only", "or", "order", "placing", "primary", "references", "returning", "select",
    "session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union",
    "unique", "user", "using", "variadic", "when", "where", "window", "with", "index", "key",
    "rowid", "oid", "ctid", "xmin", "xmax", "cmin", "cmax", "tableoid",
}  # fmt: skip

_INT_STORAGE = {
    "int8": "int16", "int16": "int16", "int32": "int32", "int64": "int64",
    "uint8": "int16", "uint16": "int32", "uint32": "int64", "uint64": "int64",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# labels (column names, index names) are kept as JSON values
def check_label(label: Any, what: str) -> Any:
    if what == "column name" and (label is None or _isna(label)):
        raise UnsupportedObjectError(
            f"a column name is missing ({label!r}); name every column with text or a number "
            "(nothing was written)"
        )
    if label is None or isinstance(label, str | bool):
        return label
    if isinstance(label, int | np.integer):
        return int(label)
    if isinstance(label, float | np.floating):
        return float(label)
    raise UnsupportedObjectError(
        f"{what} {label!r} of type {type(label).__name__} cannot be stored; use text or numbers"
    )


def physical_names(labels: list[Any], native_ok: bool = True) -> list[str]:
    """Physical column names: the label itself where it is a plain identifier, else ``cN``."""
    out: list[str] = []
    used: set[str] = set()
    for i, label in enumerate(labels):
        name = label if isinstance(label, str) else None
        ok = native_ok and name is not None and _SAFE_NAME.match(name) and name not in _RESERVED
        phys = name if ok and name not in used and not name.startswith("c") else f"c{i}"
        if phys in used:  # a label such as "c3" that would clash with a generated name
            phys = f"c{i}_{len(used)}"
        used.add(phys)
        out.append(phys)  # type: ignore[arg-type]
    return out


# ---------------------------------------------------------------------------------------------
# column specs
def column_spec(series: pd.Series, label: Any, phys: str, native_timestamps: bool) -> dict:
    """Describe how ``series`` is stored. Raises :class:`UnsupportedObjectError` if it cannot be."""
    dtype = series.dtype
    spec: dict[str, Any] = {"name": label, "phys": phys, "dtype": str(dtype)}
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        inner = column_spec(pd.Series(cats), None, phys, native_timestamps)
        spec.update(
            sql=inner["sql"],
            category={
                "ordered": bool(dtype.ordered),
                "values": _json_values(cats),
                "inner": inner,
            },
        )
        return spec
    if isinstance(dtype, pd.StringDtype):
        spec.update(sql="text", string={"storage": dtype.storage, "na": _na_name(dtype.na_value)})
        return spec
    if isinstance(dtype, pd.DatetimeTZDtype):
        if native_timestamps and _exact_in_us(series):
            spec.update(sql="timestamptz", tz=str(dtype.tz), unit=dtype.unit)
        else:
            spec.update(sql="int64", epoch=True, tz=str(dtype.tz), unit=dtype.unit)
        return spec
    kind = getattr(dtype, "kind", None)
    numpy_name = getattr(dtype, "numpy_dtype", dtype)
    if kind in "iu" and str(np.dtype(numpy_name)) in _INT_STORAGE:
        spec["sql"] = _INT_STORAGE[str(np.dtype(numpy_name))]
        spec["nullable"] = isinstance(dtype, pd.api.extensions.ExtensionDtype)
        return spec
    if kind == "f" and np.dtype(numpy_name).itemsize in (4, 8):
        spec["sql"] = "float32" if np.dtype(numpy_name).itemsize == 4 else "float64"
        spec["nullable"] = isinstance(dtype, pd.api.extensions.ExtensionDtype)
        return spec
    if kind == "b":
        spec["sql"] = "bool"
        spec["nullable"] = isinstance(dtype, pd.api.extensions.ExtensionDtype)
        return spec
    if kind == "M" and isinstance(dtype, np.dtype):
        unit = np.datetime_data(dtype)[0]
        if native_timestamps and _exact_in_us(series):
            spec.update(sql="timestamp", unit=unit)
        else:
            spec.update(sql="int64", epoch=True, unit=unit)
        return spec
    if kind == "m" and isinstance(dtype, np.dtype):
        spec.update(sql="int64", unit=np.datetime_data(dtype)[0])
        return spec
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("string", "empty"):
            spec["sql"] = "text"
        else:
            _check_json_column(series, label)
            spec.update(sql="text", json=True)
        return spec
    raise UnsupportedObjectError(f"column {label!r} has dtype {dtype}, which cannot be stored yet")


def _na_name(value: Any) -> str:
    return "NA" if value is pd.NA else "nan"


def _exact_in_us(series: pd.Series) -> bool:
    """True if the datetimes lose nothing at PostgreSQL's microsecond precision."""
    dtype = series.dtype
    unit = dtype.unit if isinstance(dtype, pd.DatetimeTZDtype) else np.datetime_data(dtype)[0]
    if unit in ("s", "ms", "us"):
        return True
    values = series.array.asi8
    mask = ~series.isna().to_numpy()
    return bool((values[mask] % 1000 == 0).all())


def _json_values(index: pd.Index) -> dict:
    """Category values as JSON: datetimes as integers of their unit, everything else as is."""
    dtype = index.dtype
    if dtype.kind in "Mm":
        return {"dtype": str(dtype), "i8": index.asi8.tolist()}
    return {"dtype": str(dtype), "values": [check_label(v, "category") for v in index.tolist()]}


def from_json_values(data: dict) -> pd.Index:
    dtype = dtype_from_string(data["dtype"])
    if "i8" not in data:
        return pd.Index(data["values"], dtype=dtype)
    ints = np.array(data["i8"], dtype="i8")
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive = pd.DatetimeIndex(ints.view(f"M8[{dtype.unit}]"))
        return naive.tz_localize("UTC").tz_convert(dtype.tz)
    return pd.Index(ints.view(dtype))


def _check_json_column(series: pd.Series, label: Any) -> None:
    for value in series.dropna().head(1000):
        try:
            json.dumps(value)
        except TypeError as exc:
            raise UnsupportedObjectError(
                f"column {label!r} holds {type(value).__name__} values, which cannot be stored; "
                "convert it to text or numbers"
            ) from exc


def dtype_from_string(text: str) -> Any:
    if text == "str":
        return pd.StringDtype(na_value=np.nan)
    return pd.api.types.pandas_dtype(text)


# ---------------------------------------------------------------------------------------------
# encode: pandas -> arrow
def encode_column(series: pd.Series, spec: dict) -> pa.Array:
    """Values of ``series`` as an Arrow array of the spec's storage type."""
    sql = spec["sql"]
    target = SQL_ARROW[sql]
    if "category" in spec:
        # Encode the categories once and pick them by code: works for any category type and
        # keeps missing values (code -1) as NULL.
        categories = _encoded_categories(series.dtype.categories, spec)
        codes = np.asarray(series.cat.codes)
        return categories.take(pa.array(codes, mask=codes < 0))
    if spec.get("json"):
        values = [None if _isna(v) else json.dumps(v) for v in series.tolist()]
        return pa.array(values, type=target)
    if spec.get("epoch") or (sql == "int64" and "unit" in spec):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        ints = series.to_numpy().view("i8")
        mask = pd.isna(series).to_numpy()
        return pa.array(ints, type=pa.int64(), mask=mask)
    if sql in ("timestamp", "timestamptz"):
        if sql == "timestamptz":
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        arr = pa.array(series.to_numpy(), from_pandas=True)
        return (
            arr.cast(pa.timestamp("us")).cast(target) if sql == "timestamptz" else arr.cast(target)
        )
    if spec["dtype"] in ("uint64", "UInt64"):
        arr = pa.array(
            series.array if spec.get("nullable") else series.to_numpy(), from_pandas=True
        )
        return arr.cast(pa.int64(), safe=False)  # bit pattern kept; decoded by a cast back
    if sql == "text":
        if isinstance(series.dtype, pd.StringDtype):
            arr = pa.array(series.array)  # Arrow to Arrow, no Python objects
            if isinstance(arr, pa.ChunkedArray):  # e.g. after pd.concat
                arr = arr.combine_chunks()
            return arr.cast(target)
        return pa.array(series.to_numpy(dtype=object, na_value=None), type=target)
    values = series.array if spec.get("nullable") else series.to_numpy()
    return pa.array(values, from_pandas=True).cast(target)


def _encoded_categories(categories: pd.Index, spec: dict) -> pa.Array:
    """The categories as stored, in the Arrow type of the column."""
    inner = spec["category"]["inner"] | {"phys": spec["phys"]}
    return encode_column(pd.Series(categories, dtype=categories.dtype), inner)


def _isna(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


# ---------------------------------------------------------------------------------------------
# decode: arrow -> pandas
def decode_column(arr: pa.ChunkedArray | pa.Array, spec: dict) -> Any:
    """An array (numpy or pandas extension) with exactly the spec's dtype."""
    # Chunked arrays are decoded as they are: ``to_numpy`` concatenates straight into the
    # result, where combining the chunks first would hold one more copy of the column.
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks == 1:
        arr = arr.chunk(0)
    dtype_text = spec["dtype"]
    sql = spec["sql"]
    if "category" in spec:
        cat = spec["category"]
        dtype = pd.CategoricalDtype(from_json_values(cat["values"]), ordered=cat["ordered"])
        stored = _encoded_categories(dtype.categories, spec)
        codes = pc.index_in(arr, value_set=stored).fill_null(-1).to_numpy(zero_copy_only=False)
        return pd.Categorical.from_codes(codes, dtype=dtype)
    if "string" in spec:
        info = spec["string"]
        dtype = pd.StringDtype(info["storage"], na_value=pd.NA if info["na"] == "NA" else np.nan)
        # Straight from Arrow: no Python string objects (pandas' str dtype is Arrow-backed).
        return dtype.__from_arrow__(arr.cast(pa.large_string()))
    if sql == "text":
        values = arr.to_numpy(zero_copy_only=False)
        if spec.get("json"):
            values = np.array([None if v is None else json.loads(v) for v in values], dtype=object)
        return values
    if "unit" in spec and sql in ("int64", "timestamp", "timestamptz"):
        return _decode_time(arr, spec)
    dtype = dtype_from_string(dtype_text)
    if arr.type == pa.null():
        arr = pa.nulls(len(arr), type=SQL_ARROW[sql])
    if dtype_text in ("uint64", "UInt64"):
        arr = arr.cast(pa.int64()).cast(pa.uint64(), safe=False)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        mask = arr.is_null().to_numpy(zero_copy_only=False)
        fill = False if sql == "bool" else 0
        values = arr.fill_null(fill).to_numpy(zero_copy_only=False).astype(dtype.numpy_dtype)
        return pd.array(values, dtype=dtype).__class__(values, mask)
    if sql == "bool":
        if arr.null_count:
            raise ValueError(f"column {spec['name']!r}: NULL in a non-nullable bool column")
        return arr.cast(pa.bool_()).to_numpy(zero_copy_only=False)
    if arr.null_count and dtype.kind in "iu":
        raise ValueError(f"column {spec['name']!r}: NULL in a non-nullable integer column")
    values = arr.to_numpy(zero_copy_only=False)
    return values.astype(dtype, copy=False)


def _decode_time(arr: pa.Array, spec: dict) -> Any:
    unit = spec["unit"]
    if pa.types.is_timestamp(arr.type):
        arr = arr.cast(pa.timestamp("us", tz=arr.type.tz)).cast(pa.int64())
        ints = arr.fill_null(np.iinfo("i8").min).to_numpy().astype("i8")
        naive = ints.view("M8[us]").astype(f"M8[{unit}]")
    else:
        ints = arr.cast(pa.int64()).fill_null(np.iinfo("i8").min).to_numpy().astype("i8")
        if spec["dtype"].startswith("timedelta"):
            return ints.view(f"m8[{unit}]")
        naive = ints.view(f"M8[{unit}]")
    if "tz" in spec:
        return pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(spec["tz"]).array
    return naive


# ---------------------------------------------------------------------------------------------
# whole frames
def describe_frame(df: pd.DataFrame, native_timestamps: bool) -> dict:
    """The ``kind_meta`` of a frame: column and index specs plus the labels' own dtypes."""
    if isinstance(df.columns, pd.MultiIndex):
        raise UnsupportedObjectError("DataFrames with MultiIndex columns cannot be stored yet")
    if df.columns.has_duplicates:
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise UnsupportedObjectError(f"duplicate column names: {', '.join(dupes)}")
    labels = [check_label(c, "column name") for c in df.columns]
    physical = physical_names(labels)
    columns = [
        column_spec(df.iloc[:, i], label, phys, native_timestamps)
        for i, (label, phys) in enumerate(zip(labels, physical, strict=True))
    ]
    return {
        "columns": columns,
        "columns_index": {
            "dtype": str(df.columns.dtype),
            "name": check_label(df.columns.name, "columns name"),
        },
        "index": _describe_index(df.index, native_timestamps),
        "rows": len(df),
    }


def _describe_index(index: pd.Index, native_timestamps: bool) -> dict:
    if isinstance(index, pd.RangeIndex):
        return {
            "type": "range",
            "start": index.start,
            "step": index.step,
            "name": check_label(index.name, "index name"),
        }
    levels = []
    names = list(index.names)
    for i in range(index.nlevels):
        values = level_values(index, i)
        label = check_label(names[i], "index name")
        levels.append(
            column_spec(pd.Series(values), label, f"{INDEX_PREFIX}{i}", native_timestamps)
        )
    return {"type": "multi" if isinstance(index, pd.MultiIndex) else "index", "levels": levels}


def level_values(index: pd.Index, position: int) -> pd.Index:
    """The values of index level ``position``. ``get_level_values(1)`` looks the level up by
    *name* first, so a level named 1 would shadow the second level: name them by position."""
    positional = index.set_names(list(range(index.nlevels)))
    return positional.get_level_values(position)


def stored_specs(kind_meta: dict) -> list[dict]:
    """All physical columns (index levels first, then data columns), without the row column."""
    index = kind_meta["index"]
    levels = index.get("levels", [])
    return [*levels, *kind_meta["columns"]]


def table_columns(kind_meta: dict) -> list[tuple[str, str]]:
    """The (physical name, storage kind) columns of the SQL table holding a frame."""
    return [(ROW_COLUMN, "int64"), *((s["phys"], s["sql"]) for s in stored_specs(kind_meta))]


def encode_batches(
    df: pd.DataFrame, kind_meta: dict, chunk_rows: int, row_offset: int = 0
) -> Iterator[pa.RecordBatch]:
    """The frame as Arrow record batches of at most ``chunk_rows`` rows (one copy per batch)."""
    schema = arrow_schema(kind_meta)
    index = kind_meta["index"]
    for start in range(0, max(len(df), 1), chunk_rows):
        part = df.iloc[start : start + chunk_rows]
        if len(part) == 0 and len(df) > 0:
            break
        arrays: list[pa.Array] = [
            pa.array(np.arange(start, start + len(part), dtype="i8") + row_offset)
        ]
        for i, spec in enumerate(index.get("levels", [])):
            arrays.append(encode_column(pd.Series(level_values(part.index, i)), spec))
        for i, spec in enumerate(kind_meta["columns"]):
            arrays.append(encode_column(part.iloc[:, i], spec))
        if len(part):
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


# The most columns a table may have: PostgreSQL's limit, and SQLite's default build limit.
MAX_TABLE_COLUMNS = {"postgresql": 1600, "sqlite": 2000}


def check_storable(kind_meta: dict, postgres: bool) -> None:
    """Refuse, before anything is written, a frame the database cannot hold: more columns
    than a table may have, or (PostgreSQL) NUL characters in labels or categories."""
    limit = MAX_TABLE_COLUMNS["postgresql" if postgres else "sqlite"]
    width = len(table_columns(kind_meta))
    if width > limit:
        extra = width - len(kind_meta["columns"])
        raise UnsupportedObjectError(
            f"{len(kind_meta['columns'])} columns are more than a "
            f"{'PostgreSQL' if postgres else 'SQLite'} table holds ({limit - extra} data "
            "columns at most with this index); split the frame, or store it transposed "
            "(nothing was written)"
        )
    if postgres:
        _check_pg_row_size(kind_meta)
        check_nul_free(kind_meta)


# PostgreSQL keeps a row on one 8 kB page (long text moves out of it, numbers do not).
_PG_MAX_ROW_BYTES = 8160
_PG_FIXED_BYTES = {
    "int16": 2, "int32": 4, "int64": 8, "float32": 4, "float64": 8, "bool": 1,
    "timestamp": 8, "timestamptz": 8,
}  # fmt: skip


def _check_pg_row_size(kind_meta: dict) -> None:
    columns = table_columns(kind_meta)
    size = 24 + (len(columns) + 7) // 8 + sum(_PG_FIXED_BYTES.get(sql, 0) for _, sql in columns)
    if size > _PG_MAX_ROW_BYTES:
        raise UnsupportedObjectError(
            f"a row of {len(kind_meta['columns'])} numeric columns takes {size} bytes, more "
            f"than a PostgreSQL row holds ({_PG_MAX_ROW_BYTES}); split the frame, or store it "
            "transposed (nothing was written)"
        )


def check_nul_free(kind_meta: dict) -> None:
    """Refuse labels and category values with NUL characters (PostgreSQL cannot store them)."""
    for spec in stored_specs(kind_meta):
        if contains_nul(spec):
            raise UnsupportedObjectError(
                f"{_describe_spec(spec)} has a NUL character ('\\x00') in its name or "
                "categories, which PostgreSQL cannot store; remove it"
            )
    if contains_nul([kind_meta["columns_index"], kind_meta.get("series_name")]):
        raise UnsupportedObjectError(
            "a columns or series name has a NUL character ('\\x00'), which PostgreSQL "
            "cannot store; remove it"
        )


def reject_nul_text(batches: Iterable[pa.RecordBatch], kind_meta: dict) -> Iterator[pa.RecordBatch]:
    """Pass ``batches`` through, raising if a text value holds NUL (PostgreSQL text cannot)."""
    text_specs = [s for s in stored_specs(kind_meta) if s["sql"] == "text"]
    for batch in batches:
        for spec in text_specs:
            column = batch.column(spec["phys"])
            found = pc.match_substring(column, "\x00")
            if pc.any(found).as_py():
                first = pc.index(found, True).as_py()
                row = batch.column(ROW_COLUMN)[first].as_py() + 1
                raise UnsupportedObjectError(
                    f"row {row} {_describe_spec(spec)} holds text with a NUL character "
                    "('\\x00'), which PostgreSQL cannot store; remove it or store the data as "
                    "bytes (nothing was written)"
                )
        yield batch


def _describe_spec(spec: dict) -> str:
    if spec["phys"].startswith(INDEX_PREFIX):
        return f"index level {spec['phys'][len(INDEX_PREFIX) :]} ({spec['name']!r})"
    return f"column {spec['name']!r}"


def arrow_schema(kind_meta: dict) -> pa.Schema:
    fields = [pa.field(ROW_COLUMN, pa.int64(), nullable=False)]
    fields += [pa.field(s["phys"], SQL_ARROW[s["sql"]]) for s in stored_specs(kind_meta)]
    return pa.schema(fields)


def decode_table(
    table: pa.Table | ColumnBatches,
    kind_meta: dict,
    columns: list[dict],
    row_start: int | None = 0,
) -> pd.DataFrame:
    """Rebuild a frame from stored columns. ``columns`` are the data column specs wanted.

    ``row_start`` is the first row's position, used to rebuild a RangeIndex; None means the
    rows are a filtered subset, whose RangeIndex labels are computed from the row column.
    """
    index_meta = kind_meta["index"]
    data = {}
    for i, spec in enumerate(columns):
        data[i] = decode_column(table.column(spec["phys"]), spec)
        if isinstance(table, ColumnBatches):
            release_freed_memory()  # the column's Arrow buffers, for the next column
    n = table.num_rows
    if index_meta["type"] == "range":
        start, step = index_meta["start"], index_meta["step"]
        if row_start is not None and (n == 0 or _is_contiguous(table, row_start)):
            index = pd.RangeIndex(start + row_start * step, start + (row_start + n) * step, step)
        else:
            rows = table.column(ROW_COLUMN).to_numpy()
            index = pd.Index(start + rows * step, dtype="int64")
        index.name = index_meta["name"]
    else:
        levels = index_meta["levels"]
        # Explicit dtypes again: an object ndarray would otherwise be inferred as ``str``.
        arrays = [
            pd.Index(values, dtype=_series_dtype(values), copy=False)
            for values in (decode_column(table.column(s["phys"]), s) for s in levels)
        ]
        if index_meta["type"] == "multi":
            index = pd.MultiIndex.from_arrays(arrays, names=[s["name"] for s in levels])
        else:
            index = arrays[0].rename(levels[0]["name"])
    # Series with explicit dtypes: a bare object ndarray would be inferred as ``str``.
    frame = pd.DataFrame(
        {
            i: pd.Series(values, index=index, dtype=_series_dtype(values), copy=False)
            for i, values in data.items()
        },
        index=index,
        copy=False,
    )
    cols_meta = kind_meta["columns_index"]
    frame.columns = pd.Index(
        [s["name"] for s in columns],
        dtype=dtype_from_string(cols_meta["dtype"]),
        name=cols_meta["name"],
    )
    return frame


def _series_dtype(values: Any) -> Any:
    return object if isinstance(values, np.ndarray) and values.dtype.kind == "O" else None


def _is_contiguous(table: pa.Table, row_start: int) -> bool:
    rows = table.column(ROW_COLUMN)
    n = len(rows)
    first = rows[0].as_py()
    last = rows[n - 1].as_py()
    return first == row_start and last == row_start + n - 1


def release_freed_memory() -> None:
    """Hand memory freed by Arrow back for reuse: the buffers of a decoded column come from the
    database driver's ``malloc`` (freed in holes of the C heap too small for the next column's
    array, so they are returned to the system) and from Arrow's own pool."""
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class ColumnBatches:
    """Record batches held column by column, for :func:`decode_table`: taking a column
    (``column(name)``) hands over its arrays, so its Arrow buffers are freed as soon as the
    column is decoded instead of living until the whole frame is built (a get then peaks at
    the frame plus about one column, not two frames). The row column stays."""

    def __init__(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> None:
        self.schema = schema
        self._arrays: dict[str, list[pa.Array]] = {name: [] for name in schema.names}
        self.num_rows = 0
        for batch in batches:
            # A batch imported from a driver is freed only when all of its columns are:
            # each column is copied into its own buffers (Arrow's pool) and the batch let go
            for name, array in zip(schema.names, batch.columns, strict=True):
                self._arrays[name].append(pa.concat_arrays([array, array.slice(0, 0)]))
            self.num_rows += batch.num_rows
            del batch, array
            release_freed_memory()

    def column(self, name: str) -> pa.ChunkedArray:
        arrays = self._arrays[name] if name == ROW_COLUMN else self._arrays.pop(name)
        return pa.chunked_array(arrays, type=self.schema.field(name).type)

    def in_row_order(self) -> bool:
        if self.num_rows < 2:
            return True
        return bool((np.diff(self.column(ROW_COLUMN).to_numpy()) > 0).all())

    def to_table(self) -> pa.Table:
        columns = {name: self.column(name) for name in list(self._arrays)}
        return pa.table(columns, schema=self.schema)


def order_by_row(table: pa.Table) -> pa.Table:
    """Sort by the row column unless already in order (a cheap check, the usual case)."""
    if table.num_rows < 2:
        return table
    rows = table.column(ROW_COLUMN).to_numpy()
    if (np.diff(rows) > 0).all():
        return table
    return table.take(np.argsort(rows, kind="stable"))
