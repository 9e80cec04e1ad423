"""Model actions on a worker: fit, predict, score, transform, grid search of a stored model.

An action gets references (model name and version, dataset names), reads the model and data
itself and returns a result reference: small values inline, frames and large arrays as
datasets, a fitted model as a new version with lineage.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from omega_jupyter.experiments.experiment import Experiment
from omega_jupyter.experiments.monitor import capture_frame
from omega_jupyter.experiments.recorder import recorder_for
from omega_jupyter.experiments.tracking import record_prediction, tracking_experiment
from omega_jupyter.models import predict
from omega_jupyter.names import parse_ref

INLINE_LIMIT = 100_000  # array elements returned inline as JSON; larger results become datasets
SAVING_ACTIONS = {"fit", "partial_fit", "fit_transform", "gridsearch"}
SCORE_ROWS = 100_000  # a tracked fit scores its training data up to this many rows


# -- inputs ---------------------------------------------------------------------------------
def _read(om: Any, ref: dict | None, lineage: bool = True) -> tuple[Any, dict | None]:
    """Read a dataset reference; returns (data, lineage entry)."""
    if ref is None:
        return None, None
    if not lineage:  # one metadata lookup less on the latency-sensitive predict path
        return om.datasets.get(ref["ref"]), None
    meta = om.datasets.metadata(ref["ref"])
    data = om.datasets.get(ref["ref"], version=meta.version)
    entry = {"name": meta.name, "version": meta.version, "ref": ref["ref"], "role": ref["role"]}
    if ref.get("temporary"):
        entry = {"name": "(in-memory)", "version": None, "role": ref["role"]}
    return data, entry


def _target(y: Any) -> Any:
    # A one-column frame as a target makes scikit-learn warn and ravel anyway.
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        return y.iloc[:, 0]
    return y


def signature_of(X: Any) -> dict | None:
    if isinstance(X, pd.DataFrame):
        return {"columns": [str(c) for c in X.columns], "dtypes": [str(d) for d in X.dtypes]}
    if isinstance(X, np.ndarray) and X.ndim == 2:
        return {"width": int(X.shape[1]), "dtype": str(X.dtype)}
    return None


# -- outputs --------------------------------------------------------------------------------
def encode_result(om: Any, value: Any, spec: dict) -> Any:
    """Small values inline (JSON); frames, series and large arrays stored as datasets."""
    name = spec.get("result_name")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray) and name is None and value.size <= INLINE_LIMIT:
        try:
            data = json.loads(json.dumps(value.tolist()))
            return {"type": "ndarray", "dtype": str(value.dtype), "data": data}
        except (TypeError, ValueError):
            pass
    if isinstance(value, np.ndarray | pd.Series | pd.DataFrame):
        stored = value
        as_kind = type(value).__name__
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            stored = pd.DataFrame(value if value.ndim == 2 else {"value": value})
        meta = om.datasets.put(stored, name or f"_results/{spec['run_id']}")
        return {"type": "dataset", "name": meta.name, "version": meta.version, "as": as_kind}
    return {"type": "value", "value": json.loads(json.dumps(value, default=str))}


def _save(om: Any, spec: dict, model: Any, datasets: list, signature: dict | None, **extra: Any):
    lineage = {
        "action": spec["action"],
        "run_id": spec["run_id"],
        "source_version": spec["version"],
        "datasets": [d for d in datasets if d],
        **extra,
    }
    source = om.models.meta.resolve(_model_ref(spec))
    tracking = source.attributes.get("tracking")  # a tracked model's new versions stay tracked
    meta = om.models.put(
        model,
        spec["target"],
        attributes={"tracking": tracking} if tracking else None,
        serializer=source.kind_meta.get("format", "skops"),
        lineage=json.loads(json.dumps(lineage, default=str)),
        signature=signature or source.kind_meta.get("signature"),
    )
    return {"type": "model", "model": meta.name, "version": meta.version}


def _model_ref(spec: dict) -> Any:
    return parse_ref(f"{spec['target']}@{spec['version']}")


def _load_model(om: Any, spec: dict) -> Any:
    meta = om.models.meta.resolve(_model_ref(spec))
    # Read-only actions share a cached instance; anything that fits gets its own copy.
    return om.models.load(meta, cached=spec["action"] not in SAVING_ACTIONS), meta


# -- actions --------------------------------------------------------------------------------
def _fit(om: Any, spec: dict) -> Any:
    model, meta = _load_model(om, spec)
    X, x_entry = _read(om, spec.get("X"))
    Y, y_entry = _read(om, spec.get("Y"))
    method = predict.model_method(model, spec["action"], spec["target"])
    args = (X,) if Y is None else (X, _target(Y))
    exp = _fit_experiment(om, spec, meta, x_entry)
    try:
        started = time.perf_counter()
        output = method(*args, **spec.get("kwargs", {}))
        seconds = time.perf_counter() - started
        saved = _save(
            om, spec, model, [x_entry, y_entry], signature_of(X), kwargs=spec.get("kwargs")
        )
        if exp is not None:
            _log_fit(exp, spec, model, X, Y, seconds, saved)
        _baseline(om, spec, meta, X, Y, saved)
    except BaseException as exc:
        if exp is not None:
            exp.stop("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    if exp is not None:
        exp.stop()
    if spec["action"] == "fit_transform":
        return {**encode_result(om, output, spec), "model_version": saved["version"]}
    return saved


def _fit_experiment(om: Any, spec: dict, meta: Any, x_entry: dict | None) -> Experiment | None:
    """The experiment run a fit logs into: ``experiment=`` of the call, else the model's
    tracking experiment; None when neither."""
    name = spec.get("experiment") or tracking_experiment(meta.attributes)
    if not name:
        return None
    dataset = x_entry.get("ref") if x_entry and x_entry.get("version") is not None else None
    exp = Experiment(om, name, runtime_run=spec["run_id"], model=spec["target"], dataset=dataset)
    exp.start(action=spec["action"], source_version=spec["version"])
    return exp


def _log_fit(
    exp: Experiment, spec: dict, model: Any, X: Any, Y: Any, seconds: float, saved: dict
) -> None:
    """A tracked fit's params (the estimator's and the call's), duration, rows, training
    score when cheap, and the saved version."""
    exp.links["model_version"] = saved["version"]
    get_params = getattr(model, "get_params", None)
    params = dict(get_params(deep=False)) if callable(get_params) else {}
    params.update(spec.get("kwargs") or {})
    if params:
        exp.log_params(params)
    exp.log_metric("fit_seconds", seconds)
    rows = predict_rows(X)
    if rows is not None:
        exp.log_metric("rows", rows)
    score = getattr(model, "score", None)
    if Y is not None and callable(score) and rows is not None and rows <= SCORE_ROWS:
        try:
            exp.log_metric("train_score", float(score(X, _target(Y))))
        except Exception:
            pass  # a score the model cannot give on its training data is left out
    exp.log_event("artifact", "model", {"store": "models", **saved})


def _baseline(om: Any, spec: dict, meta: Any, X: Any, Y: Any, saved: dict) -> None:
    """A tracked model's fit snapshots its training data (features and target) as the
    drift monitor's baseline (``experiments/monitor.py``)."""
    tracked = tracking_experiment(meta.attributes)
    if not tracked or X is None:
        return
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    if Y is not None:
        target = _target(Y)
        target = target if isinstance(target, pd.Series) else pd.Series(np.ravel(target))
        frame = frame.assign(**{str(target.name or "target"): target.to_numpy()})
    exp = Experiment(om, tracked, runtime_run=spec["run_id"], model=spec["target"])
    capture_frame(exp, frame, "baseline", spec["target"], saved["version"])


def predict_rows(X: Any) -> int | None:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape else None


def _apply(om: Any, spec: dict) -> Any:
    model, meta = _load_model(om, spec)
    predict.model_method(model, spec["action"], spec["target"])  # before reading any data
    X, _x = _read(om, spec.get("X"), lineage=False)
    Y, _y = _read(om, spec.get("Y"), lineage=False) if spec["action"] == "score" else (None, None)
    kwargs = spec.get("kwargs", {})
    started = time.perf_counter()
    value = predict.apply(model, meta, spec["action"], X, Y, kwargs=kwargs, name=spec["target"])
    seconds = time.perf_counter() - started
    experiment = tracking_experiment(meta.attributes)
    if experiment:
        record_prediction(
            om.db, om.bucket, experiment, meta.name, meta.version, spec["action"], X, value,
            seconds, runtime_run=spec["run_id"],
        )  # fmt: skip
        try:
            recorder_for(om.db).flush()  # stored when the run ends
        except Exception:
            pass  # queued still: the flusher tries again
    return encode_result(om, value, spec)


def _gridsearch(om: Any, spec: dict) -> Any:
    import joblib  # with scikit-learn's model selection, ~1 s: only a grid search needs them
    from sklearn.model_selection import GridSearchCV

    model, _meta = _load_model(om, spec)
    X, x_entry = _read(om, spec.get("X"))
    Y, y_entry = _read(om, spec.get("Y"))
    search = GridSearchCV(model, spec["parameters"], **spec.get("kwargs", {}))
    y = None if Y is None else _target(Y)
    # The grid's fits become Dask tasks; joblib's dask backend uses this worker's client and
    # secedes from the worker's thread pool while it waits for them.
    with joblib.parallel_config(backend="dask"):
        search.fit(X, y)
    saved = _save(
        om,
        spec,
        search.best_estimator_,
        [x_entry, y_entry],
        signature_of(X),
        best_params=search.best_params_,
        best_score=float(search.best_score_),
    )
    return saved


ACTIONS = {
    "fit": _fit,
    "partial_fit": _fit,
    "fit_transform": _fit,
    "predict": _apply,
    "predict_proba": _apply,
    "decision_function": _apply,
    "transform": _apply,
    "score": _apply,
    "gridsearch": _gridsearch,
}
