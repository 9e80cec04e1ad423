"""Applying a stored model: one cache of loaded models and one ``apply``, for every caller.

The REST server predicts in its own process and the cluster's workers run model actions as
tasks; both load models through ``LOADED`` (an LRU of loaded versions keyed by database,
bucket, name, version and content hash: versions are immutable, so a loaded model is reused
by read-only calls) and both call ``apply`` (method lookup, signature check, the call).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from omega_jupyter.exceptions import ModelMethodError, SignatureMismatchError
from omega_jupyter.names import parse_ref
from omega_jupyter.storage.metadata import Metadata

if TYPE_CHECKING:
    from omega_jupyter.models.store import ModelStore

# The read-only actions: they neither change nor save the model.
ACTIONS = ("predict", "predict_proba", "decision_function", "score", "transform")


class LoadedModels:
    """Loaded model versions by (database, bucket, name, version, sha256), oldest out first."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(store: ModelStore, meta: Metadata) -> tuple:
        return (
            store.db.safe_url,
            store.bucket,
            meta.name,
            meta.version,
            meta.kind_meta.get("sha256"),
        )

    def peek(self, store: ModelStore, meta: Metadata) -> Any | None:
        """The loaded model of ``meta`` if there is one (no database or blob read)."""
        with self._lock:
            return self._models.get(self._key(store, meta))

    def get(self, store: ModelStore, meta: Metadata) -> Any:
        """The model of ``meta``, loaded on first use."""
        key = self._key(store, meta)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = store.load(meta)
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model

    def forget(self, store: ModelStore, name: str) -> None:
        """Drop every loaded version of model ``name`` (it was dropped)."""
        prefix = (store.db.safe_url, store.bucket, parse_ref(name).name)
        with self._lock:
            for key in [k for k in self._models if k[:3] == prefix]:
                self._models.pop(key, None)


LOADED = LoadedModels()


class ModelCache:
    """Which version a name (``m``, ``m@prod``, ``m^``) points at, looked up again after
    ``ttl`` seconds (so a new version or a moved tag is picked up within that time); the
    models themselves come from ``LOADED``."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._refs: dict[tuple, tuple[Metadata, float]] = {}

    def cached_meta(self, store: ModelStore, name: str) -> Metadata | None:
        hit = self._refs.get((store.db.safe_url, store.bucket, name))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def resolve(self, store: ModelStore, name: str) -> Metadata:
        """The version ``name`` points at now (a database read; remembered for ``ttl``)."""
        meta = store.metadata(name)
        self._refs[(store.db.safe_url, store.bucket, name)] = (meta, time.monotonic() + self.ttl)
        return meta

    def forget(self, store: ModelStore, name: str) -> None:
        """Forget every reference to model ``name`` (``m``, ``m@3``, ``m@prod``…) and its loaded
        versions, so a model this process just dropped stops answering at once."""
        base = parse_ref(name).name
        for key in list(self._refs):
            if key[:2] == (store.db.safe_url, store.bucket) and parse_ref(key[2]).name == base:
                self._refs.pop(key, None)
        LOADED.forget(store, name)

    def cached_model(self, store: ModelStore, meta: Metadata) -> Any | None:
        return LOADED.peek(store, meta)

    def load(self, store: ModelStore, meta: Metadata) -> Any:
        return LOADED.get(store, meta)


def check_signature(X: Any, signature: dict | None, model_name: str) -> Any:
    """Validate predict input against the fit's signature; reorder columns to match."""
    if not signature:
        return X
    if "columns" in signature and isinstance(X, pd.DataFrame):
        by_text = {str(c): c for c in X.columns}
        missing = [c for c in signature["columns"] if c not in by_text]
        if missing:
            raise SignatureMismatchError(
                f"input lacks column(s) {', '.join(missing)} that model {model_name!r} was "
                f"fitted on (expected: {', '.join(signature['columns'])})"
            )
        return X[[by_text[c] for c in signature["columns"]]]
    width = len(signature["columns"]) if "columns" in signature else signature.get("width")
    shape = getattr(X, "shape", None)
    if width is not None and shape is not None and len(shape) == 2 and shape[1] != width:
        raise SignatureMismatchError(
            f"input has {shape[1]} columns; model {model_name!r} was fitted on {width}"
        )
    return X


def model_method(model: Any, action: str, model_name: str) -> Any:
    """``model``'s method for ``action`` (ModelMethodError if it has none)."""
    method = getattr(model, action, None)
    if not callable(method):
        raise ModelMethodError(
            f"model {model_name!r} ({type(model).__qualname__}) has no method {action!r}"
        )
    return method


def target(y: Any) -> Any:
    """``y`` as a target: a one-column frame as its column (scikit-learn would warn and ravel
    it anyway), a list as an array."""
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        return y.iloc[:, 0]
    return np.asarray(y) if isinstance(y, list) else y


def apply(
    model: Any,
    meta: Metadata,
    action: str,
    X: Any,
    y: Any = None,
    kwargs: dict | None = None,
    name: str | None = None,
) -> Any:
    """Run read-only ``action`` of ``model`` (the version ``meta``) on ``X`` (and ``y`` for
    score): the input is validated against the fit's signature and its columns put in the
    fitted order; a plain 2-d array gets the fitted column names. ``name``: how the caller
    referred to the model (for messages)."""
    name = name or meta.name
    method = model_method(model, action, name)
    signature = meta.kind_meta.get("signature") or {}
    if not (isinstance(X, pd.DataFrame) and _same_columns(X, signature)):
        X = check_signature(X, signature, name)  # validates, and reorders columns
    if isinstance(X, np.ndarray) and X.ndim == 2 and "columns" in signature:
        X = pd.DataFrame(X, columns=signature["columns"])  # the names the model was fitted with
    if action == "score":
        return method(X, target(y), **(kwargs or {}))
    return method(X, **(kwargs or {}))


def _same_columns(X: pd.DataFrame, signature: dict) -> bool:
    # Reordering copies the frame; skip it when the input already has the fitted order.
    wanted = signature.get("columns")
    return wanted is not None and [str(c) for c in X.columns] == wanted
