"""Tracked models: every prediction of a model under ``om.models.track(model, experiment)``
logs one ``predict`` event into that experiment, from the runtime and from REST alike.

The event costs the caller no database round trip: the row is queued for the background
flusher (``recorder.py``). It holds the latency in seconds (``value``), and in ``data`` the
number of rows, a sample of the inputs (at most ``SAMPLE_ROWS`` rows, as records) and of the
outputs, so that a drift monitor can compare recent inputs with the fit's. Links: the model,
its version, and the runtime run when there is one.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from omega_jupyter.experiments.recorder import recorder_for
from omega_jupyter.storage import audit

SAMPLE_ROWS = 100
_NODE = socket.gethostname()


def tracking_experiment(attributes: dict | None) -> str | None:
    """The experiment a model version's ``attributes`` are tracked in (None: not tracked)."""
    tracking = (attributes or {}).get("tracking")
    return tracking.get("experiment") if isinstance(tracking, dict) else None


def record_prediction(
    db: Any,
    bucket: str,
    experiment: str,
    model: str,
    version: int | None,
    action: str,
    X: Any,
    result: Any,
    seconds: float,
    runtime_run: str | None = None,
) -> None:
    """Queue the ``predict`` event of one call (never raises: tracking must not fail a
    prediction). The samples are taken when the event is written (by the flusher, off the
    request's path); ``X`` and ``result`` are not changed after a prediction."""

    def data() -> dict[str, Any]:
        try:
            return {"rows": _rows(X), "inputs": sample(X), "outputs": sample(result)}
        except Exception as exc:  # an input we cannot summarize still logs its latency
            return {"rows": None, "error": f"{type(exc).__name__}: {exc}"[:500]}

    recorder_for(db).add(
        {
            "bucket": bucket,
            "experiment": experiment,
            "run": None,
            "step": None,
            "event": "predict",
            "key": action,
            "value": float(seconds),
            "data": data,  # resolved by the recorder when it writes the row
            "dt": datetime.now(UTC),
            "node": _NODE,
            "userid": audit.current_actor(),
            "runtime_run": runtime_run,
            "model": model,
            "model_version": version,
            "dataset": None,
        }
    )


def sample(value: Any, rows: int = SAMPLE_ROWS) -> Any:
    """At most ``rows`` rows of ``value`` as JSON data: a frame as records, arrays as lists."""
    if isinstance(value, pd.DataFrame):
        head = value if len(value) <= rows else value.iloc[:rows]  # slicing costs more
        return {"columns": [str(c) for c in value.columns], "data": _plain(head.to_numpy())}
    if isinstance(value, pd.Series):
        return _plain(value.to_numpy()[:rows])
    if isinstance(value, np.ndarray):
        return _plain(value[:rows])
    if isinstance(value, list):
        return _plain(np.asarray(value[:rows], dtype=object))
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str | bool | type(None)) else str(value)


def _plain(array: np.ndarray) -> Any:
    if array.dtype.kind in "iub" or (array.dtype.kind == "f" and np.isfinite(array).all()):
        return array.tolist()  # numbers: numpy's own conversion, no Python loop
    if array.dtype.kind in "fc":
        array = np.where(np.isfinite(array), array, None)  # JSON has no NaN
    return [_item(v) if array.ndim == 1 else [_item(x) for x in v] for v in array]


def _item(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, int | float | str | bool | type(None)) else str(value)


def _rows(X: Any) -> int | None:
    shape = getattr(X, "shape", None)
    if shape:
        return int(shape[0])
    return len(X) if isinstance(X, list) else None
