"""DataFrame → JSON records, the one conversion the surfaces share."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from omega_jupyter.records import json_records


def test_json_records_are_plain_json_values() -> None:
    frame = pd.DataFrame(
        {
            "i": np.array([1, 2], dtype="int64"),
            "f": [1.5, np.nan],
            "inf": [np.inf, -np.inf],
            "t": pd.to_datetime(["2026-01-02 03:04:05.123456", None]).tz_localize("UTC"),
            "naive": pd.to_datetime(["2026-01-02", "2026-01-03"]),
            "d": [pd.Timedelta(seconds=90), pd.NaT],
            "c": pd.Categorical(["a", None]),
            "s": ["x", None],
            7: [True, False],
        },
        index=[10, 11],
    )
    rows = json_records(frame)
    assert rows == [
        {
            "i": 1,
            "f": 1.5,
            "inf": None,
            "t": "2026-01-02T03:04:05.123456+00:00",
            "naive": "2026-01-02T00:00:00",
            "d": "P0DT0H1M30S",
            "c": "a",
            "s": "x",
            "7": True,
        },
        {
            "i": 2,
            "f": None,
            "inf": None,
            "t": None,
            "naive": "2026-01-03T00:00:00",
            "d": None,
            "c": None,
            "s": None,
            "7": False,
        },
    ]
    assert json.loads(json.dumps(rows, allow_nan=False)) == rows
    assert all(type(row["i"]) is int for row in rows)
    assert json_records(frame.iloc[:0]) == []
