"""Model actions over REST: the input forms a request may send, the checks a request needs,
and the result as JSON. Predicts run in the server process (no Dask round trip per request)
with the one cache and ``apply`` of ``models.predict``. No tornado import here.

On PostgreSQL the server process is the service (or, under JupyterHub, holds every bucket
credential of its user): a stored pickle is never loaded there, since loading and calling it
runs its code with those rights (:func:`check_inline`; docs/security.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from omega_jupyter.exceptions import BadRequestError, UntrustedModelError
from omega_jupyter.models.predict import ACTIONS, apply, model_method
from omega_jupyter.models.serializers import RUNS_NO_STORED_CODE
from omega_jupyter.records import json_records
from omega_jupyter.server.payloads import frame_from_json
from omega_jupyter.storage.metadata import Metadata

INLINE_ROWS = 5_000  # inputs up to this size are computed on the event loop (no thread hop)


def input_from_json(body: Any) -> tuple[Any, Any]:
    """(X, y) from a JSON body: ``{"columns","data"}``, ``{"data": [{…}]}``, a list of records,
    or MLflow's ``dataframe_split``, ``dataframe_records``, ``inputs`` and ``instances``.
    ``y`` (for score) comes from ``"y"`` or ``"targets"``."""
    y = None
    if isinstance(body, dict):
        y = body.get("y", body.get("targets"))
        if "instances" in body or "inputs" in body:
            return _tensor_input(body.get("instances", body.get("inputs"))), y
        known = {"columns", "data", "index", "dataframe_split", "dataframe_records"}
        if not known & set(body):
            raise BadRequestError(
                "send {'columns': [...], 'data': [[...]]}, {'data': [{...}]}, "
                "dataframe_split, dataframe_records, inputs or instances"
            )
    return frame_from_json(body), y


def _tensor_input(data: Any) -> Any:
    if isinstance(data, dict):  # columnar: {"a": [1, 2], "b": [3, 4]}
        try:
            return pd.DataFrame(data)
        except ValueError as exc:
            raise BadRequestError(f"columnar inputs must be equally long lists: {exc}") from None
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return frame_from_json(data)
    if not isinstance(data, list) or not data:
        raise BadRequestError("'inputs'/'instances' must be a non-empty list or an object")
    try:
        array = np.asarray(data)
    except ValueError as exc:
        raise BadRequestError(f"'inputs'/'instances' are ragged: {exc}") from None
    if array.dtype == object:
        raise BadRequestError("'inputs'/'instances' must be numbers in rows of equal length")
    return array if array.ndim == 2 else array.reshape(1, -1) if array.ndim == 1 else array


def check_inline(meta: Metadata, multi_user: bool, name: str | None = None) -> None:
    """Refuse to answer an action of ``meta`` in the server process when the store is
    multi-user (PostgreSQL) and the model is a pickle: its code would run with the server's
    rights, whatever ``trust_pickle`` says. ``?async=true`` runs it confined on the cluster."""
    fmt = meta.kind_meta.get("format", "")
    if not multi_user or fmt in RUNS_NO_STORED_CODE:
        return
    raise UntrustedModelError(
        f"model {name or meta.name!r} version {meta.version} is stored as a pickle ({fmt}),"
        " which runs its own code when loaded: this server does not load it in its own"
        " process. Call it with ?async=true (it runs on the cluster, in a process that holds"
        " only the bucket's credential), or store the model with serializer='skops'"
    )


def rows_of(X: Any) -> int:
    return int(getattr(X, "shape", (len(X),))[0]) if X is not None else 0


def apply_request(model: Any, meta: Metadata, action: str, X: Any, y: Any = None) -> Any:
    """``models.predict.apply`` for a request: an unknown action, an empty input or a score
    without targets is a bad request, and so is an input the model cannot take."""
    if action not in ACTIONS:
        raise BadRequestError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    model_method(model, action, meta.name)
    if rows_of(X) == 0:
        raise BadRequestError("the input has no rows")
    if action == "score" and y is None:
        raise BadRequestError("score needs targets: ?datay=<dataset> or 'y' in the body")
    try:
        return apply(model, meta, action, X, y)
    except ValueError as exc:  # wrong dtypes or widths the signature could not catch
        raise BadRequestError(f"model {meta.name!r} cannot {action} this input: {exc}") from None


def result_json(value: Any) -> Any:
    """A result as JSON-ready data (arrays as lists, frames as records, NaN/inf as null)."""
    if isinstance(value, pd.Series):
        value = value.to_numpy()
    if isinstance(value, pd.DataFrame):
        return json_records(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return np.ascontiguousarray(value)  # serialized as is (NaN/inf as null)
        return value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
