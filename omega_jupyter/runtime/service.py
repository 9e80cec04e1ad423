"""``om.runtime``: every kind of run is recorded, then sent to Dask by :meth:`Runtime.submit`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from omega_jupyter.exceptions import InvalidParameterError
from omega_jupyter.runtime import cluster
from omega_jupyter.runtime.events import publish_ended
from omega_jupyter.runtime.groups import GroupStore, RunGroup, check_members, check_parallel
from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.kinds import RunKind, RunKinds
from omega_jupyter.runtime.lifecycle import run_task
from omega_jupyter.runtime.reconcile import check_retries, task_key, task_record
from omega_jupyter.runtime.runs import RunRecord, RunStore
from omega_jupyter.runtime.worker import settings_payload
from omega_jupyter.storage import credentials

if TYPE_CHECKING:
    from omega_jupyter.client import Omega
    from omega_jupyter.experiments.experiment import Experiment


class Runtime:
    """Runs every kind of run the client registered (model actions, notebooks, scripts) on
    Dask, as recorded runs followed through :class:`RunHandle`."""

    def __init__(
        self,
        om: Omega,
        kinds: RunKinds | None = None,
        resources: dict[str, float] | None = None,
    ) -> None:
        self.om = om
        self.kinds = kinds or RunKinds()
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
        routed = Runtime(self.om, self.kinds, {**(self.resources or {}), **wanted})
        routed._address = self._address
        return routed

    # -- runs -----------------------------------------------------------------------------
    @cached_property
    def runs_store(self) -> RunStore:
        """The run rows of this bucket (the one RunStore of the client)."""
        return RunStore(self.om.db, self.om.bucket)

    def run(self, run_id: str) -> RunHandle:
        """A handle on an existing run (from any process)."""
        self.runs_store.get(run_id)  # raises RunNotFoundError
        return RunHandle(self, str(run_id))

    def run_record(self, run_id: str) -> RunRecord:
        """The row of run ``run_id`` as stored (RunNotFoundError if there is none)."""
        return self.runs_store.get(run_id)

    def run_count(
        self,
        state: str | list[str] | None = None,
        target: str | None = None,
        *,
        kind: str | None = None,
        search: str | None = None,
    ) -> int:
        """How many runs ``runs(state, target, kind=kind, search=search)`` pages through."""
        if kind is not None:
            self.kinds.get(kind)  # an unknown kind is an error, not an empty list
        return self.runs_store.count(state=state, target=target, kind=kind, search=search)

    def runs(
        self,
        state: str | list[str] | None = None,
        target: str | None = None,
        limit: int = 100,
        offset: int = 0,
        *,
        kind: str | None = None,
        search: str | None = None,
    ) -> pd.DataFrame:
        """Runs of this bucket, newest first, from ``offset`` on, only of one ``kind``
        (``job``, ``script``, ``model``) when given, only those whose target contains
        ``search`` (any case) when given (``run_count(state, target, kind=kind,
        search=search)`` tells how many there are in all)."""
        if kind is not None:
            self.kinds.get(kind)  # an unknown kind is an error, not an empty list
        return self.runs_store.list(
            state=state, target=target, kind=kind, limit=limit, offset=offset, search=search
        )

    # -- kinds of run ---------------------------------------------------------------------
    def kind(self, name: str) -> RunKind:
        """The registered kind of run called ``name`` (ConfigurationError if unknown)."""
        return self.kinds.get(name)

    def model(self, name: str) -> Any:
        """Actions on a stored model: ``om.runtime.model('m').fit('X', 'Y')``."""
        return self.kind("model").front(self, name)

    def job(self, name: str) -> Any:
        """A stored notebook: ``om.runtime.job('report').run(parameters={...})``."""
        return self.kind("job").front(self, name)

    def script(self, name: str) -> Any:
        """A stored script package: ``om.runtime.script('etl').run(day='2024-01-01')``."""
        return self.kind("script").front(self, name)

    def app(self, name: str) -> Any:
        """A stored script package or notebook served as an app:
        ``om.runtime.app('dashboard').start()`` (``docs/apps.md``)."""
        return self.kind("app").front(self, name)

    def experiment(self, name: str, **links: Any) -> Experiment:
        """Experiment ``name`` of this bucket: ``with om.runtime.experiment('iris') as exp:``
        is one run of it (``docs/experiments.md``)."""
        from omega_jupyter.experiments.experiment import Experiment

        return Experiment(self.om, name, **links)

    def experiments(self) -> pd.DataFrame:
        """The experiments of this bucket (name, runs, events, last event)."""
        from omega_jupyter.experiments.experiment import list_experiments

        return list_experiments(self.om)

    # -- run groups -----------------------------------------------------------------------
    def group(self, group_id: str) -> RunGroup:
        """A run group by id (from any process); GroupNotFoundError if there is none."""
        return RunGroup(self, str(group_id))

    def groups(self, limit: int = 100) -> pd.DataFrame:
        """This bucket's run groups, newest first."""
        return GroupStore(self.om.db, self.om.bucket).list(limit)

    def map(
        self,
        kind: str,
        target: str,
        parameter_sets: Any,
        *,
        param: str | None = None,
        max_parallel: int | None = None,
        version: int | None = None,
        max_retries: int | None = None,
        trigger: str = "manual",
        **extra: Any,
    ) -> RunGroup:
        """Record a run group of ``target``, one member per parameter set (dicts, or values
        bound to ``param``), and send its first ``max_parallel`` members (default: the
        cluster's threads); the others are sent as members end (``groups.py``). ``extra``
        goes to every member's task as in :meth:`start` (JSON: any process sends members)."""
        members = check_members(parameter_sets, param)
        retries = check_retries(max_retries, 0)
        if max_parallel is None:
            max_parallel = max(1, sum(self.client.nthreads().values()))
        parallel = check_parallel(max_parallel)
        task = task_record(None, [], extra)
        if task is None:
            raise InvalidParameterError("a run group's options must be JSON values")
        task.pop("parameters", None)
        task.pop("temporary", None)
        group_id = GroupStore(self.om.db, self.om.bucket).create(
            kind,
            target,
            members,
            max_parallel=parallel,
            target_version=version,
            max_retries=retries,
            task=task,
            resources=self.resources,
            trigger=trigger,
        )
        group = RunGroup(self, group_id)
        group.advance()
        return group

    def cancel_task(self, run_id: str, future: Any = None) -> None:
        """Best effort: tell Dask to drop a cancelled run's task."""
        try:
            if future is None:
                from distributed import Future  # ~0.5 s to import; only a cancel needs it here

                future = Future(task_key(run_id), self.client)
            future.cancel()
        except Exception:
            pass  # the run row already says cancelled; a late task discards its outcome

    # -- submission -----------------------------------------------------------------------
    def start(
        self,
        kind: str,
        target: str,
        *,
        version: int | None = None,
        parameters: dict | None = None,
        result_stream: str | None = None,
        trigger: str = "manual",
        max_retries: int | None = None,
        **extra: Any,
    ) -> RunHandle:
        """Record a run of ``target`` (queued), then :meth:`submit` it; ``result_stream``
        (validated by the caller) gets the run's lifecycle messages; ``max_retries``
        (default 0) how often the run is tried again should it lose its worker."""
        if result_stream is not None:
            extra["result_stream"] = result_stream
        retries = check_retries(max_retries, 0)
        task = task_record(parameters, [], extra)
        run_id = self.runs_store.create(
            kind,
            target,
            "run",
            target_version=version,
            parameters=parameters,
            trigger=trigger,
            result_stream=result_stream,
            max_retries=retries if task is not None else 0,
            task=task,
        )
        return self.submit(kind, run_id, target, parameters, **extra)

    def submit(
        self,
        kind: str,
        run_id: str,
        name: str,
        parameters: Any = None,
        *,
        fail_on_error: bool = True,
        temporary: list[str] | None = None,
        **extra: Any,
    ) -> RunHandle:
        """Send a recorded run (its row exists, queued) to Dask: one path for every kind, for
        new runs as for the scheduler's scheduled, retried and resent ones.

        The task (:func:`lifecycle.run_task`) gets references, never data; it is fired and
        forgotten, so it runs on if this process (a notebook kernel) ends. If Dask cannot take
        it, the run is failed with the reason and ``finished`` published to its stream —
        unless ``fail_on_error`` is false (a resent run may be queued elsewhere) — the
        ``temporary`` datasets staged for it are dropped, and the error raised. ``extra`` goes
        to the task as is (``result_stream``, ``timeout``, what the kind's body reads).
        """
        # distributed takes ~0.5 s to import: clients that only read runs never pay for it
        from distributed import fire_and_forget

        spec = {
            "kind": kind,
            "settings": self.task_settings(),
            "run_id": run_id,
            "name": name,
            "parameters": parameters,
            "temporary": list(temporary or []),
            **extra,
        }
        try:
            future = self.client.submit(
                run_task,
                spec,
                key=task_key(run_id),
                pure=False,
                retries=0,
                resources=self.resources,
            )
        except Exception as exc:
            if fail_on_error:
                error = f"{type(exc).__name__}: {exc}"
                if self.runs_store.finish(run_id, "failed", error=error):
                    publish_ended(self.om, run_id, "failed", error)  # its task never runs
                self.drop_temporary(spec["temporary"])
            raise
        fire_and_forget(future)
        return RunHandle(self, run_id, future)

    def task_settings(self) -> dict[str, Any]:
        """The settings a task opens its client with. On PostgreSQL, when this client is the
        service, the database URL is the run bucket's short-lived credential (never the
        service's): the worker, and all code the run executes, is confined to the bucket.
        The credential outlives every run sent with it by at least ``max_run_seconds``
        (see :func:`credential_ttl`). A client that is already a bucket's passes its own."""
        settings = self.om.settings
        db = self.om.db
        if db.is_postgres and credentials.is_service(db):
            url = credentials.cached_bucket_credentials(
                db, self.om.bucket, credential_ttl(settings)
            )
            settings = settings.replace(database_url=url)
        return settings_payload(settings)

    def drop_temporary(self, names: list[str]) -> None:
        """Drop datasets staged for a run (best effort: cleanup never hides an outcome)."""
        for name in names:
            try:
                self.om.datasets.drop(name, force=True)
            except Exception:
                pass

    def __repr__(self) -> str:
        extra = f", resources={self.resources}" if self.resources else ""
        return f"Runtime(bucket={self.om.bucket!r}{extra})"


def credential_ttl(settings: Any) -> float:
    """How long a run credential is valid: twice the longest run. A credential is reused
    while more than half of its life remains (``cached_bucket_credentials``), so every run
    gets one that stays valid for at least ``settings.max_run_seconds`` — PostgreSQL checks
    ``VALID UNTIL`` at login, and ``sweep_credentials`` ends sessions only once it passed."""
    return 2.0 * float(settings.max_run_seconds)
