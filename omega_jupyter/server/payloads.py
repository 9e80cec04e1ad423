"""Request bodies and query strings to Python objects, and results to response bodies.

No tornado import: the handlers pass plain bytes, strings and dicts in and get bytes out.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from omega_jupyter.datasets.ingest import check_encoding
from omega_jupyter.exceptions import BadRequestError

FRAME_KINDS = ("pandas.dataframe", "pandas.series")
PARQUET_MAGIC = b"PAR1"
FORMATS = ("json", "csv", "parquet")
ORIENTS = ("records", "split")
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
# Columns (with index levels) a written frame may have: PostgreSQL tables hold at most 1600
# and a row at most ~8 kB of fixed-width values, so 1000 fits any column types on both databases.
MAX_COLUMNS = 1000
# How deeply a JSON body may nest arrays and objects: the stores walk messages recursively.
MAX_JSON_DEPTH = 128
# Query parameters of GET /datasets/{name} that are not filters.
READ_PARAMS = {"limit", "offset", "columns", "orient", "format", "version"}


# -- query strings ----------------------------------------------------------------------------
def filter_args(args: Mapping[str, list[bytes]]) -> dict[str, str]:
    """The query arguments of a dataset read that are column filters (the last value of each).

    Leaves out the read parameters and the cache buster JupyterLab's ``ServerConnection``
    appends to GET URLs (``?1795123456789``: an all-digits key without a value). A digits key
    with a value is still a filter, so an unknown column of that name stays an error.
    """
    return {
        key: values[-1].decode("utf-8", "replace")
        for key, values in args.items()
        if key not in READ_PARAMS and not _is_cache_buster(key, values)
    }


def _is_cache_buster(key: str, values: list[bytes]) -> bool:
    return key.isascii() and key.isdigit() and not any(values)


# Query integers (limit, offset, since …) fit a signed 64-bit column/OFFSET on every database.
MAX_INT_PARAM = 2**62


def int_param(raw: str | None, name: str, default: int | None, minimum: int = 0) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer, got {raw[:50]!r}") from None
    if value < minimum:
        raise BadRequestError(f"{name} must be >= {minimum}")
    if value > MAX_INT_PARAM:
        raise BadRequestError(f"{name} must be <= {MAX_INT_PARAM}")
    return value


def bool_param(raw: str | None, name: str, default: bool = False) -> bool:
    if raw is None or raw == "":
        return default
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise BadRequestError(f"{name} must be true or false, got {raw[:50]!r}")


def choice_param(raw: str | None, name: str, choices: Iterable[str], default: str) -> str:
    if raw is None or raw == "":
        return default
    options = tuple(choices)
    if raw not in options:
        raise BadRequestError(f"{name} must be one of {', '.join(options)}; got {raw[:50]!r}")
    return raw


def list_param(raw: str | None) -> list[str] | None:
    if raw is None or raw.strip() == "":
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


# -- request bodies ---------------------------------------------------------------------------
def parse_json(body: bytes) -> Any:
    """The JSON of a request body, nested at most ``MAX_JSON_DEPTH`` deep."""
    if not body:
        raise BadRequestError("the request body is empty; send JSON")
    try:
        data = orjson.loads(body)  # ~5x faster than json for a 1000-row body
    except orjson.JSONDecodeError:
        data = _parse_json_slowly(body)  # e.g. integers beyond 64 bits, NaN literals
    # Fewer brackets than the limit cannot nest deeper than it: most bodies skip the walk.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _depth(data) > MAX_JSON_DEPTH:
        raise _too_deep()
    return data


def _parse_json_slowly(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"malformed JSON body: {exc}") from None
    except RecursionError:
        raise _too_deep() from None


def _too_deep() -> BadRequestError:
    return BadRequestError(f"the JSON body nests arrays/objects more than {MAX_JSON_DEPTH} deep")


def _depth(data: Any) -> int:
    """How deeply parsed JSON nests lists and dicts, counted to just past the limit (level by
    level, without recursion)."""
    level = [data] if type(data) in (list, dict) else []
    depth = 0
    while level and depth <= MAX_JSON_DEPTH:
        depth += 1
        inner = []
        for value in level:
            for item in value.values() if type(value) is dict else value:
                if type(item) is list or type(item) is dict:
                    inner.append(item)
        level = inner
    return depth


def frame_from_json(data: Any) -> pd.DataFrame:
    """A DataFrame from records (``[{…}]`` or ``{"data": [{…}]}``) or split
    (``{"columns": […], "data": [[…]], "index": […]}``) JSON."""
    if isinstance(data, dict) and "dataframe_split" in data:
        data = data["dataframe_split"]
    elif isinstance(data, dict) and "dataframe_records" in data:
        data = data["dataframe_records"]
    if isinstance(data, dict) and "columns" in data:
        columns, rows = data.get("columns"), data.get("data", [])
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise BadRequestError("split JSON needs 'columns' (a list) and 'data' (a list of rows)")
        if any(not isinstance(c, str | int) for c in columns):
            raise BadRequestError("column names must be strings or integers")
        if any(not isinstance(r, list) or len(r) != len(columns) for r in rows):
            raise BadRequestError(f"every row in 'data' must be a list of {len(columns)} values")
        index = data.get("index")
        if index is not None and (not isinstance(index, list) or len(index) != len(rows)):
            raise BadRequestError("'index' must be a list as long as 'data'")
        return pd.DataFrame(rows, columns=columns, index=index)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):  # JSON object keys are always strings
            raise BadRequestError("records JSON must be a list of objects")
        if data and not any(data):
            raise BadRequestError("the records have no fields: a row needs at least one column")
        return records_frame(data)
    raise BadRequestError(
        'send records ([{"a": 1}, …] or {"data": [{…}]}) or split '
        '({"columns": […], "data": [[…]]}) JSON'
    )


def _is_json(body: bytes) -> bool:
    """Whether a body sent as CSV is a JSON array or object (CSV would read it as a header)."""
    if body.lstrip()[:1] not in (b"[", b"{"):
        return False
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


def records_frame(records: list[dict]) -> pd.DataFrame:
    """A DataFrame from records. Built column by column (2-3x faster than ``from_records``
    for numeric data) when every record has the first record's keys; numeric columns become
    numpy arrays, anything else is left to pandas' inference, as ``from_records`` would."""
    if not records:
        return pd.DataFrame()
    keys = list(records[0])
    if any(len(r) != len(keys) for r in records):
        return pd.DataFrame.from_records(records)
    columns: dict[str, Any] = {}
    try:
        for key in keys:
            values = [r[key] for r in records]
            array = np.array(values) if values and type(values[0]) in (int, float) else None
            columns[key] = array if array is not None and array.dtype.kind in "iuf" else values
    except (KeyError, ValueError, OverflowError):
        return pd.DataFrame.from_records(records)
    return pd.DataFrame(columns, columns=keys, copy=False)


def check_csv_body(body: bytes, encoding: str = "utf-8") -> None:
    """Refuse, before anything is read into the store, a CSV body that is JSON or whose
    header has more than ``MAX_COLUMNS`` fields (the rule of every other body)."""
    check_encoding(encoding)
    if not body.strip():
        raise BadRequestError("the CSV body is empty")
    if _is_json(body):
        raise BadRequestError(
            "the body is JSON, not CSV: send it with Content-Type: application/json"
        )
    first = body[: 1 << 20].split(b"\n", 1)[0].decode(encoding, errors="replace")
    width = len(next(csv.reader([first]), []))
    if width > MAX_COLUMNS:
        raise BadRequestError(
            f"the CSV has {width} columns; at most {MAX_COLUMNS} (index levels included) "
            "can be stored"
        )


def frame_from_body(body: bytes, content_type: str) -> pd.DataFrame:
    """A DataFrame from a JSON, CSV or Parquet request body (chosen by Content-Type), with at
    most ``MAX_COLUMNS`` columns; records that have rows but no column are refused."""
    frame = _frame_from_body(body, content_type)
    width = len(frame.columns) + frame.index.nlevels
    if width > MAX_COLUMNS:
        raise BadRequestError(
            f"the frame has {len(frame.columns)} columns; at most {MAX_COLUMNS} "
            "(index levels included) can be stored"
        )
    return frame


def _frame_from_body(body: bytes, content_type: str) -> pd.DataFrame:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if body.startswith(PARQUET_MAGIC) or "parquet" in ctype:
        try:
            return pd.read_parquet(io.BytesIO(body))
        except Exception as exc:  # pyarrow raises several unrelated types for bad files
            raise BadRequestError(f"the body is not a readable Parquet file: {exc}") from None
    if ctype in ("text/csv", "application/csv"):
        if not body.strip():
            raise BadRequestError("the CSV body is empty")
        if _is_json(body):
            raise BadRequestError(
                "the body is JSON, not CSV: send it with Content-Type: application/json"
            )
        try:
            return pd.read_csv(io.BytesIO(body))
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"malformed CSV body: {exc}") from None
    if ctype in ("", "application/json", "text/json"):
        return frame_from_json(parse_json(body))
    raise BadRequestError(
        f"unsupported Content-Type {ctype!r}: send application/json, text/csv or "
        "application/vnd.apache.parquet"
    )


# -- responses --------------------------------------------------------------------------------
_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(obj: Any) -> bytes:
    """JSON for API responses: numpy arrays and scalars, timestamps, NaN/inf as null."""
    try:
        return orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS)
    except TypeError:  # e.g. integers beyond 64 bits, non-contiguous arrays
        return json.dumps(_clean(obj), default=_default, separators=(",", ":")).encode()


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    if isinstance(obj, datetime | date | pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, pd.Timedelta):
        return obj.isoformat()
    if isinstance(obj, pd.DataFrame | pd.Series):
        return json.loads(obj.to_json(orient="split", date_format="iso"))
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    return str(obj)


def render_frame(
    df: pd.DataFrame, fmt: str, orient: str, envelope: dict, keep_index: bool
) -> tuple[bytes, str]:
    """The body and Content-Type for a page of rows. ``keep_index``: the stored index carries
    information (not a plain 0..n-1 range), so it is sent as well."""
    if fmt == "csv":
        return df.to_csv(index=keep_index).encode(), CONTENT_TYPES["csv"]
    if fmt == "parquet":
        buffer = io.BytesIO()
        df.to_parquet(buffer, index=keep_index)
        return buffer.getvalue(), CONTENT_TYPES["parquet"]
    if orient == "records":
        frame = df.reset_index(drop=not keep_index)
    else:
        frame = df if keep_index else df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    data = frame.to_json(orient=orient, date_format="iso")
    head = dumps(envelope)[:-1]  # splice the frame's own JSON in without re-parsing it
    return head + b',"data":' + data.encode() + b"}", CONTENT_TYPES["json"]
