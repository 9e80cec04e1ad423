"""Turning items and DataFrames into JSON-safe stream messages (and refusing what is not)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from omega_jupyter.exceptions import InvalidMessageError
from omega_jupyter.storage.metadata import contains_nul


def _default(value: Any) -> Any:
    """Convert the common scientific types json does not know; refuse everything else."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is pd.NaT:
        return None
    if isinstance(value, datetime | date | time | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, timedelta | pd.Timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, Decimal):
        return float(value) if not value.is_integer() else int(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def normalize(item: Any, postgres: bool) -> Any:
    """``item`` as the plain JSON value that will be stored (what readers will get back).

    Raises :class:`InvalidMessageError` for objects, NaN/inf, and (on PostgreSQL) NUL characters.
    """
    if isinstance(item, float) and not math.isfinite(item):
        raise InvalidMessageError(f"stream messages must be finite numbers, not {item!r}")
    try:
        text = json.dumps(item, allow_nan=False, default=_default)
    except (TypeError, ValueError) as exc:
        raise InvalidMessageError(
            f"stream messages must be JSON-serializable (dict, list, str, number, bool, None): "
            f"{exc}"
        ) from exc
    value = json.loads(text)
    if postgres and contains_nul(value):
        raise InvalidMessageError("stream messages must not contain NUL characters ('\\x00')")
    return value


def prepare(items: Any, postgres: bool) -> list[Any]:
    """Every item normalized (all or nothing: the first refused item raises)."""
    return [normalize(item, postgres) for item in items]


def frame_records(frame: Any) -> list[Any]:
    """One JSON object per row of a DataFrame: missing values become null, timestamps ISO text.

    A meaningful index (anything but the default 0..n-1) is kept as columns.
    """
    import pandas as pd

    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    if not frame.columns.is_unique:
        raise InvalidMessageError("a DataFrame appended to a stream needs unique column names")
    text = frame.to_json(orient="records", date_format="iso", date_unit="us", default_handler=str)
    return json.loads(text)


def is_frame(obj: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False
    return isinstance(obj, pd.DataFrame)
