"""In-process model actions for the REST server: a model cache and the input forms.

Predicts are served in the server process from a cache keyed by (bucket, name, version):
no Dask round trip per request. Which version a name (``m``, ``m@prod``, ``m^``) points at is
looked up again after ``ttl`` seconds, so a new version or a moved tag is picked up within that
time. No tornado import here.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import BadRequestError, ModelMethodError
from omega_jupyter.names import parse_ref
from omega_jupyter.server.payloads import frame_from_json
from omega_jupyter.storage.metadata import Metadata

ACTIONS = ("predict", "predict_proba", "decision_function", "score", "transform")
INLINE_ROWS = 5_000  # inputs up to this size are computed on the event loop (no thread hop)


class ModelCache:
    """Loaded models by (database, bucket, name, version, sha256) and name → version lookups."""

    def __init__(self, ttl: float = 1.0, size: int = 32) -> None:
        self.ttl = ttl
        self.size = size
        self._refs: dict[tuple, tuple[Metadata, float]] = {}
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def cached_meta(self, om: Omega, name: str) -> Metadata | None:
        hit = self._refs.get((id(om.db), om.bucket, name))  # Database objects live per process
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def resolve(self, om: Omega, name: str) -> Metadata:
        """The version ``name`` points at now (a database read; cached for ``ttl``)."""
        meta = om.models.metadata(name)
        self._refs[(id(om.db), om.bucket, name)] = (meta, time.monotonic() + self.ttl)
        return meta

    def forget(self, om: Omega, name: str) -> None:
        """Drop the lookups of every reference to model ``name`` (``m``, ``m@3``, ``m@prod``…),
        so a model this process just dropped stops answering at once, not after ``ttl``."""
        base = parse_ref(name).name
        for key in list(self._refs):
            if key[:2] == (id(om.db), om.bucket) and parse_ref(key[2]).name == base:
                self._refs.pop(key, None)
        with self._lock:
            for key in [k for k in self._models if k[:3] == (id(om.db), om.bucket, base)]:
                self._models.pop(key, None)

    def _key(self, om: Omega, meta: Metadata) -> tuple:
        return (id(om.db), om.bucket, meta.name, meta.version, meta.kind_meta.get("sha256"))

    def cached_model(self, om: Omega, meta: Metadata) -> Any | None:
        return self._models.get(self._key(om, meta))

    def load(self, om: Omega, meta: Metadata) -> Any:
        """Load (once) the model of ``meta``; the oldest loaded models are dropped first."""
        key = self._key(om, meta)
        model = om.models.load(meta)
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model


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


def rows_of(X: Any) -> int:
    return int(getattr(X, "shape", (len(X),))[0]) if X is not None else 0


def apply(model: Any, meta: Metadata, action: str, X: Any, y: Any = None) -> Any:
    """Run ``action`` of ``model`` on ``X`` (validated against the fit's signature)."""
    from omega_jupyter.models.actions import check_signature

    if action not in ACTIONS:
        raise BadRequestError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    method = getattr(model, action, None)
    if not callable(method):
        raise ModelMethodError(f"model {meta.name!r} has no method {action!r}")
    if rows_of(X) == 0:
        raise BadRequestError("the input has no rows")
    signature = meta.kind_meta.get("signature") or {}
    if not (isinstance(X, pd.DataFrame) and _same_columns(X, signature)):
        X = check_signature(X, signature, meta.name)  # validates, and reorders columns
    if isinstance(X, np.ndarray) and X.ndim == 2 and "columns" in signature:
        X = pd.DataFrame(X, columns=signature["columns"])  # the names the model was fitted with
    if action == "score":
        if y is None:
            raise BadRequestError("score needs targets: ?datay=<dataset> or 'y' in the body")
        target = y.iloc[:, 0] if isinstance(y, pd.DataFrame) and y.shape[1] == 1 else y
        return method(X, np.asarray(target) if isinstance(target, list) else target)
    try:
        return method(X)
    except ValueError as exc:  # wrong dtypes or widths the signature could not catch
        raise BadRequestError(f"model {meta.name!r} cannot {action} this input: {exc}") from None


def _same_columns(X: pd.DataFrame, signature: dict) -> bool:
    # Reordering copies the frame; skip it when the input already has the fitted order.
    wanted = signature.get("columns")
    return wanted is not None and [str(c) for c in X.columns] == wanted


def result_json(value: Any) -> Any:
    """A result as JSON-ready data (arrays as lists, frames as records, NaN/inf as null)."""
    if isinstance(value, pd.Series):
        value = value.to_numpy()
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return np.ascontiguousarray(value)  # serialized as is (NaN/inf as null)
        return value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def describe_model(om: Omega, name: str) -> dict[str, Any]:
    """A model's versions, tags and signature."""
    meta = om.models.metadata(name)
    versions = om.models.versions(meta.name)
    return {
        "name": meta.name,
        "version": meta.version,
        "kind": meta.kind,
        "class": meta.kind_meta.get("class"),
        "format": meta.kind_meta.get("format"),
        "signature": meta.kind_meta.get("signature"),
        "created": meta.created.isoformat(),
        "tags": meta.attributes.get("tags", []),
        "versions": [
            {
                "version": int(row.version),
                "created": row.created.isoformat(),
                "tags": [t for t in str(row.tags).split(",") if t],
            }
            for row in versions.itertuples()
        ],
    }
