"""``om.runtime``: submit model actions to Dask as recorded runs."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from omega_jupyter.exceptions import InvalidNameError, UnsupportedObjectError
from omega_jupyter.names import parse_ref, validate_name
from omega_jupyter.runtime import cluster
from omega_jupyter.runtime.events import publish_ended
from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.runs import RunRecord, RunStore
from omega_jupyter.runtime.worker import settings_payload

if TYPE_CHECKING:
    from omega_jupyter.client import Omega

TEMP_PREFIX = "_tmp"


class Runtime:
    """Runs model actions (and, through other services, notebooks and scripts) on Dask."""

    def __init__(self, om: Omega, resources: dict[str, float] | None = None) -> None:
        self.om = om
        self.resources = resources or None
        self._address: str | None = om.settings.dask_address

    # -- cluster --------------------------------------------------------------------------
    def use_client(self, client: Any) -> None:
        """Run on an existing ``distributed.Client`` (as given to ``setup(dask=client)``)."""
        cluster.register_client(client)
        self._address = client.scheduler.address

    @property
    def client(self) -> Any:
        """The connected ``distributed.Client`` (resolved and connected on first use)."""
        return cluster.get_client(self._address, self.om.settings.home)

    def status(self) -> dict[str, Any]:
        """Cluster address, workers, threads, resources and dashboard link."""
        return cluster.describe(self.client)

    def require(self, resources: dict[str, float] | str | None = None, **more: float) -> Runtime:
        """A runtime whose calls go only to workers with ``resources`` (``{'GPU': 1}``, or a
        label string such as ``'gpu'``, meaning one unit of it)."""
        wanted: dict[str, float] = {}
        if isinstance(resources, str):
            wanted[resources] = 1
        elif isinstance(resources, dict):
            wanted.update(resources)
        elif resources is not None:
            raise TypeError("resources must be a dict such as {'GPU': 1} or a label string")
        wanted.update(more)
        routed = Runtime(self.om, {**(self.resources or {}), **wanted})
        routed._address = self._address
        return routed

    # -- runs -----------------------------------------------------------------------------
    @property
    def runs_store(self) -> RunStore:
        return RunStore(self.om.db, self.om.bucket)

    def run(self, run_id: str) -> RunHandle:
        """A handle on an existing run (from any process)."""
        self.runs_store.get(run_id)  # raises RunNotFoundError
        return RunHandle(self, str(run_id))

    def run_record(self, run_id: str) -> RunRecord:
        """The row of run ``run_id`` as stored (RunNotFoundError if there is none)."""
        return self.runs_store.get(run_id)

    def run_count(self, state: str | list[str] | None = None, target: str | None = None) -> int:
        """How many runs ``runs(state, target)`` pages through."""
        return self.runs_store.count(state=state, target=target)

    def runs(
        self,
        state: str | list[str] | None = None,
        target: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Runs of this bucket, newest first, from ``offset`` on
        (``run_count(state, target)`` tells how many there are in all)."""
        return self.runs_store.list(state=state, target=target, limit=limit, offset=offset)

    def model(self, name: str) -> ModelRuntime:
        """Actions on a stored model: ``om.runtime.model('m').fit('X', 'Y')``."""
        ref = parse_ref(name)
        if ref.columns:
            raise InvalidNameError(f"{name!r}: column selections apply to datasets, not models")
        return ModelRuntime(self, name)

    def job(self, name: str) -> Any:
        """A stored notebook: ``om.runtime.job('report').run(parameters={...})``."""
        from omega_jupyter.jobs.runner import JobRunner

        return JobRunner(self, name)

    def script(self, name: str) -> Any:
        """A stored script package: ``om.runtime.script('etl').run(day='2024-01-01')``."""
        from omega_jupyter.jobs.runner import ScriptRunner

        return ScriptRunner(self, name)

    def cancel_task(self, run_id: str, future: Any = None) -> None:
        """Best effort: tell Dask to drop a cancelled run's task."""
        try:
            if future is None:
                from distributed import Future

                future = Future(task_key(run_id), self.client)
            future.cancel()
        except Exception:
            pass  # the run row already says cancelled; a late task discards its outcome

    # -- submission -----------------------------------------------------------------------
    def submit_model_action(
        self,
        model: str,
        action: str,
        X: Any = None,
        Y: Any = None,
        kwargs: dict | None = None,
        result_name: str | None = None,
        parameters: dict | None = None,
        trigger: str = "api",
        result_stream: str | None = None,
    ) -> RunHandle:
        """Record a run, then submit it. Bad input (unknown model or dataset, unreachable
        cluster) is recorded as a failed run (``finished`` is published to ``result_stream``)
        and raised."""
        run_id = uuid.uuid4().hex
        recorded = {
            "X": _describe_input(X),
            "Y": _describe_input(Y),
            "kwargs": _jsonable(kwargs or {}),
            "result_name": result_name,
            **({"result_stream": validate_name(result_stream)} if result_stream else {}),
            **({"parameters": _jsonable(parameters)} if parameters is not None else {}),
        }
        ref = parse_ref(model)
        temporary: list[str] = []
        runs = self.runs_store
        try:
            meta = self.om.models.metadata(model)
            spec = {
                "run_id": run_id,
                "settings": settings_payload(self.om.settings),
                "action": action,
                "target": ref.name,
                "version": meta.version,
                "X": self._input(X, "X", run_id, temporary),
                "Y": self._input(Y, "Y", run_id, temporary),
                "kwargs": kwargs or {},
                "result_name": result_name,
                "result_stream": result_stream,
                "parameters": parameters,
                "temporary": temporary,
            }
            client = self.client
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            runs.create(
                "model",
                ref.name,
                action,
                parameters=recorded,
                trigger=trigger,
                run_id=run_id,
                resources=self.resources,
                state="failed",
                error=error,
                result_stream=result_stream or None,
            )
            publish_ended(self.om, run_id, "failed", error)
            self._drop(temporary)
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
            resources=self.resources,
            result_stream=result_stream or None,
        )
        return self._submit(client, run_id, spec)

    def _submit(self, client: Any, run_id: str, spec: dict) -> RunHandle:
        from distributed import fire_and_forget

        from omega_jupyter.runtime.tasks import execute_run

        try:
            future = client.submit(
                execute_run,
                spec,
                key=task_key(run_id),
                pure=False,
                retries=0,
                resources=self.resources,
            )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if self.runs_store.finish(run_id, "failed", error=error):
                publish_ended(self.om, run_id, "failed", error)  # its task never runs
            self._drop(spec["temporary"])
            raise
        fire_and_forget(future)  # the run goes on if this process (a notebook kernel) ends
        return RunHandle(self, run_id, future)

    def _input(self, obj: Any, role: str, run_id: str, temporary: list[str]) -> dict | None:
        if obj is None:
            return None
        if isinstance(obj, str):
            self.om.datasets.metadata(obj)  # raises ObjectNotFoundError for unknown names
            return {"ref": obj, "role": role}
        if isinstance(obj, pd.DataFrame | pd.Series | np.ndarray | list):
            name = f"{TEMP_PREFIX}/{run_id}/{role}"
            self.om.datasets.put(obj, name)
            temporary.append(name)
            return {"ref": name, "role": role, "temporary": True}
        ref = getattr(obj, "omega_ref", None)  # lazy frames name what they read
        if isinstance(ref, str):
            return self._input(ref, role, run_id, temporary)
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

    def _drop(self, names: list[str]) -> None:
        for name in names:
            try:
                self.om.datasets.drop(name, force=True)
            except Exception:
                pass

    def __repr__(self) -> str:
        extra = f", resources={self.resources}" if self.resources else ""
        return f"Runtime(bucket={self.om.bucket!r}{extra})"


class ModelRuntime:
    """Actions on one stored model; each returns a :class:`RunHandle`."""

    def __init__(self, runtime: Runtime, name: str) -> None:
        self.runtime = runtime
        self.name = name

    def _call(self, action: str, X: Any, Y: Any = None, **options: Any) -> RunHandle:
        return self.runtime.submit_model_action(self.name, action, X, Y, **options)

    def fit(self, X: Any, Y: Any = None, **kwargs: Any) -> RunHandle:
        """Fit on the cluster; the fitted model is saved as a new version with lineage."""
        return self._call("fit", X, Y, kwargs=kwargs)

    def partial_fit(self, X: Any, Y: Any = None, **kwargs: Any) -> RunHandle:
        return self._call("partial_fit", X, Y, kwargs=kwargs)

    def fit_transform(self, X: Any, Y: Any = None, **kwargs: Any) -> RunHandle:
        return self._call("fit_transform", X, Y, kwargs=kwargs)

    def predict(
        self,
        X: Any,
        result_name: str | None = None,
        result_stream: str | None = None,
        **kwargs: Any,
    ) -> RunHandle:
        """Predict; ``result_name`` stores the prediction as that dataset; ``result_stream``
        appends the run's outcome (result or error) to that stream when it ends."""
        return self._call(
            "predict", X, kwargs=kwargs, result_name=result_name, result_stream=result_stream
        )

    def predict_proba(self, X: Any, result_name: str | None = None, **kwargs: Any) -> RunHandle:
        return self._call("predict_proba", X, kwargs=kwargs, result_name=result_name)

    def decision_function(self, X: Any, result_name: str | None = None, **kwargs: Any) -> RunHandle:
        return self._call("decision_function", X, kwargs=kwargs, result_name=result_name)

    def transform(self, X: Any, result_name: str | None = None, **kwargs: Any) -> RunHandle:
        return self._call("transform", X, kwargs=kwargs, result_name=result_name)

    def score(self, X: Any, Y: Any, **kwargs: Any) -> RunHandle:
        return self._call("score", X, Y, kwargs=kwargs)

    def gridsearch(self, X: Any, Y: Any, parameters: dict, **kwargs: Any) -> RunHandle:
        """GridSearchCV over ``parameters`` (its fits run on Dask through joblib); the best
        estimator is saved as a new version."""
        if not isinstance(parameters, dict | list):
            raise TypeError("parameters must be a dict (or list of dicts) of value lists")
        return self._call("gridsearch", X, Y, kwargs=kwargs, parameters=parameters)

    def __repr__(self) -> str:
        return f"ModelRuntime({self.name!r})"


def task_key(run_id: str) -> str:
    return f"omega-run-{run_id}"


def _describe_input(obj: Any) -> Any:
    if obj is None or isinstance(obj, str):
        return obj
    shape = getattr(obj, "shape", None)
    return f"<in-memory {type(obj).__name__}{' ' + str(tuple(shape)) if shape else ''}>"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _is_lazy_frame(obj: Any) -> bool:
    if type(obj).__name__ != "LazyFrame":  # avoids importing the lazy package for every call
        return False
    from omega_jupyter.datasets.lazy import LazyFrame

    return isinstance(obj, LazyFrame)
