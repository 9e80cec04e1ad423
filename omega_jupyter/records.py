"""A DataFrame as JSON-ready records: the one conversion every surface uses (REST lists of
runs and logs, REST predict results, the CLI's ``--json`` output)."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of plain JSON values, index left out: column names as
    text, timestamps, dates, times and durations as ISO text, missing values and non-finite
    numbers as None, numpy scalars as Python numbers."""
    labels = [str(c) for c in frame.columns]
    boxed = frame.astype(object).where(frame.notna(), None)
    return [
        dict(zip(labels, map(json_value, row), strict=True))
        for row in boxed.itertuples(index=False, name=None)
    ]


def json_value(value: Any) -> Any:
    """One cell as a plain JSON value (see ``json_records``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time | pd.Timedelta):
        return value.isoformat()
    return value
