"""Model actions as a kind of run: ``om.runtime.model(name).fit(X, Y)``, ``.predict(X)``, ….

The client side records the run and stages in-memory inputs as temporary datasets; the
worker side (:func:`execute`) calls the action (``models/actions.py``) with references. The
run lifecycle around it is the runtime's (``runtime/lifecycle.py``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pandas as pd

from omega_jupyter.exceptions import InvalidNameError, UnsupportedObjectError
from omega_jupyter.experiments.monitor import DriftMonitor
from omega_jupyter.logs.capture import capture_output
from omega_jupyter.models import child
from omega_jupyter.models.actions import ACTIONS
from omega_jupyter.names import parse_ref, validate_name
from omega_jupyter.runtime.child_process import run_apart
from omega_jupyter.runtime.events import publish_ended
from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.kinds import Outcome, Run, RunKind
from omega_jupyter.runtime.reconcile import check_retries, task_record
from omega_jupyter.runtime.worker import blas_pinned, run_env

TEMP_PREFIX = "_tmp"
# Actions that change nothing stored: running one twice gives the same result, so a call
# that loses its worker is tried once more unless max_retries says otherwise. Fits save a
# new model version and are tried again only when asked.
IDEMPOTENT_ACTIONS = frozenset(
    {"predict", "predict_proba", "decision_function", "transform", "score"}
)


# -- client side ----------------------------------------------------------------------------
class ModelRuntime:
    """Actions on one stored model; each returns a :class:`RunHandle`."""

    def __init__(self, runtime: Any, name: str) -> None:
        ref = parse_ref(name)
        if ref.columns:
            raise InvalidNameError(f"{name!r}: column selections apply to datasets, not models")
        self.runtime = runtime
        self.name = name

    def _call(self, action: str, X: Any, Y: Any = None, **options: Any) -> RunHandle:
        return submit_model_action(self.runtime, self.name, action, X, Y, **options)

    # Every action takes ``max_retries``: how often the call is tried again should its worker
    # be lost (1 for predict, predict_proba, decision_function, transform and score, which
    # change nothing stored; 0 for fits, which save a model version).
    def fit(
        self,
        X: Any,
        Y: Any = None,
        *,
        max_retries: int | None = None,
        experiment: str | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        """Fit on the cluster; the fitted model is saved as a new version with lineage.
        ``experiment`` (or the model's tracking, ``om.models.track``) logs the fit as a run of
        that experiment: params, duration, rows, training score, the new version."""
        return self._call(
            "fit", X, Y, kwargs=kwargs, max_retries=max_retries, experiment=experiment
        )

    def partial_fit(
        self, X: Any, Y: Any = None, *, max_retries: int | None = None, **kwargs: Any
    ) -> RunHandle:
        return self._call("partial_fit", X, Y, kwargs=kwargs, max_retries=max_retries)

    def fit_transform(
        self, X: Any, Y: Any = None, *, max_retries: int | None = None, **kwargs: Any
    ) -> RunHandle:
        return self._call("fit_transform", X, Y, kwargs=kwargs, max_retries=max_retries)

    def predict(
        self,
        X: Any,
        result_name: str | None = None,
        result_stream: str | None = None,
        *,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        """Predict; ``result_name`` stores the prediction as that dataset; ``result_stream``
        appends the run's outcome (result or error) to that stream when it ends."""
        return self._call(
            "predict",
            X,
            kwargs=kwargs,
            result_name=result_name,
            result_stream=result_stream,
            max_retries=max_retries,
        )

    def predict_proba(
        self,
        X: Any,
        result_name: str | None = None,
        *,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        return self._call(
            "predict_proba", X, kwargs=kwargs, result_name=result_name, max_retries=max_retries
        )

    def decision_function(
        self,
        X: Any,
        result_name: str | None = None,
        *,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        return self._call(
            "decision_function",
            X,
            kwargs=kwargs,
            result_name=result_name,
            max_retries=max_retries,
        )

    def transform(
        self,
        X: Any,
        result_name: str | None = None,
        *,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        return self._call(
            "transform", X, kwargs=kwargs, result_name=result_name, max_retries=max_retries
        )

    def score(self, X: Any, Y: Any, *, max_retries: int | None = None, **kwargs: Any) -> RunHandle:
        return self._call("score", X, Y, kwargs=kwargs, max_retries=max_retries)

    def gridsearch(
        self,
        X: Any,
        Y: Any,
        parameters: dict,
        *,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        """GridSearchCV over ``parameters`` (its fits run on Dask through joblib); the best
        estimator is saved as a new version."""
        if not isinstance(parameters, dict | list):
            raise TypeError("parameters must be a dict (or list of dicts) of value lists")
        return self._call(
            "gridsearch", X, Y, kwargs=kwargs, parameters=parameters, max_retries=max_retries
        )

    def monitor(self) -> DriftMonitor:
        """The drift monitor of this (tracked) model: ``snapshot()``, ``compare()``,
        ``plot()`` (``docs/experiments.md``)."""
        return DriftMonitor(self.runtime.om, parse_ref(self.name).name)

    def __repr__(self) -> str:
        return f"ModelRuntime({self.name!r})"


def submit_model_action(
    runtime: Any,
    model: str,
    action: str,
    X: Any = None,
    Y: Any = None,
    kwargs: dict | None = None,
    result_name: str | None = None,
    parameters: dict | None = None,
    trigger: str = "api",
    result_stream: str | None = None,
    max_retries: int | None = None,
    experiment: str | None = None,
) -> RunHandle:
    """Record a model action's run, then submit it. Bad input (unknown model or dataset,
    unreachable cluster) is recorded as a failed run (``finished`` is published to
    ``result_stream``) and raised. ``max_retries``: how often the run is tried again should
    it lose its worker (default: 1 for :data:`IDEMPOTENT_ACTIONS`, else 0)."""
    retries = check_retries(max_retries, 1 if action in IDEMPOTENT_ACTIONS else 0)
    om = runtime.om
    run_id = uuid.uuid4().hex
    recorded = {
        "X": _describe_input(X),
        "Y": _describe_input(Y),
        "kwargs": _jsonable(kwargs or {}),
        "result_name": result_name,
        **({"result_stream": validate_name(result_stream)} if result_stream else {}),
        **({"parameters": _jsonable(parameters)} if parameters is not None else {}),
        **({"experiment": validate_name(experiment)} if experiment else {}),
    }
    ref = parse_ref(model)
    temporary: list[str] = []
    runs = runtime.runs_store
    try:
        meta = om.models.metadata(model)
        task = {
            "action": action,
            "target": ref.name,
            "version": meta.version,
            "X": _input(om, X, "X", run_id, temporary),
            "Y": _input(om, Y, "Y", run_id, temporary),
            "kwargs": kwargs or {},
            "result_name": result_name,
            "result_stream": result_stream,
            "experiment": experiment,
        }
        runtime.client  # noqa: B018 - an unreachable cluster refuses the call before its run
        sent = task_record(parameters, temporary, task)  # what a retry is sent (None: no retry)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        runs.create(
            "model",
            ref.name,
            action,
            parameters=recorded,
            trigger=trigger,
            run_id=run_id,
            resources=runtime.resources,
            state="failed",
            error=error,
            result_stream=result_stream or None,
        )
        publish_ended(om, run_id, "failed", error)
        runtime.drop_temporary(temporary)
        exc.run_id = run_id  # type: ignore[attr-defined]
        raise
    runs.create(
        "model",
        ref.name,
        action,
        target_version=meta.version,
        parameters=recorded,
        trigger=trigger,
        run_id=run_id,
        resources=runtime.resources,
        result_stream=result_stream or None,
        max_retries=retries if sent is not None else 0,
        task=sent,
    )
    return runtime.submit("model", run_id, ref.name, parameters, temporary=temporary, **task)


def _input(om: Any, obj: Any, role: str, run_id: str, temporary: list[str]) -> dict | None:
    if obj is None:
        return None
    if isinstance(obj, str):
        om.datasets.metadata(obj)  # raises ObjectNotFoundError for unknown names
        return {"ref": obj, "role": role}
    if isinstance(obj, pd.DataFrame | pd.Series | np.ndarray | list):
        name = f"{TEMP_PREFIX}/{run_id}/{role}"
        om.datasets.put(obj, name)
        temporary.append(name)
        return {"ref": name, "role": role, "temporary": True}
    ref = getattr(obj, "omega_ref", None)  # lazy frames name what they read
    if isinstance(ref, str):
        return _input(om, ref, role, run_id, temporary)
    if _is_lazy_frame(obj):
        # Materialized inside the database (CREATE TABLE … AS): no rows pass through here;
        # the worker reads it like any dataset and it is dropped after the run.
        name = f"{TEMP_PREFIX}/{run_id}/{role}"
        obj.persist(name)
        temporary.append(name)
        return {"ref": name, "role": role, "temporary": True}
    raise UnsupportedObjectError(
        f"{role} must be a dataset name, a lazy frame, a DataFrame, Series or array, "
        f"not {type(obj).__name__}"
    )


def _describe_input(obj: Any) -> Any:
    if obj is None or isinstance(obj, str):
        return obj
    shape = getattr(obj, "shape", None)
    return f"<in-memory {type(obj).__name__}{' ' + str(tuple(shape)) if shape else ''}>"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _is_lazy_frame(obj: Any) -> bool:
    if type(obj).__name__ != "LazyFrame":
        return False
    # The lazy frame package takes about a second to import: only a lazy input pays for it.
    from omega_jupyter.datasets.lazy import LazyFrame

    return isinstance(obj, LazyFrame)


# -- worker side ----------------------------------------------------------------------------
def execute(run: Run) -> Outcome:
    """Run one recorded model action (the body of the model kind). With ``trust_pickle`` the
    action runs in a child process that holds only the run's credential (``models/child.py``):
    a trusted pickle's code reaches nothing of the worker."""
    om, spec = run.om, run.spec
    if om.settings.trust_pickle:
        return _execute_apart(run)
    with blas_pinned(), capture_output(om.logger, run.id):
        result = ACTIONS[spec["action"]](om, spec)
    return Outcome("succeeded", stored=result, published=result)


def _execute_apart(run: Run) -> Outcome:
    env = run_env(run.om.settings, run.om.bucket)
    answer = run_apart(child.__file__, run.spec, env, "model")
    if "error" in answer:
        return Outcome("failed", error=answer["error"], traceback=answer.get("traceback"))
    return Outcome("succeeded", stored=answer["result"], published=answer["result"])


def describe(record: Any) -> dict[str, Any]:
    """A model action's events also name the model as ``model``."""
    return {"model": record.target}


MODEL_RUN = RunKind(
    "model", execute, front=ModelRuntime, describe=describe, noun="run", announces_start=False
)
