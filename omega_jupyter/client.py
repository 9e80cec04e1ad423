"""The Omega client: the stores of one database and bucket, behind one object.

The client composes the services; none of them imports it back, except through the class
registered here for workers (``runtime.worker.use_client_class``). The stores and the runtime
are imported on first use, not by ``import omega_jupyter``: together they import pandas,
pyarrow, nbformat and scikit-learn's helpers (seconds), and most programs use a few of them.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from omega_jupyter.names import validate_bucket
from omega_jupyter.runtime.kinds import RunKind, RunKinds
from omega_jupyter.runtime.worker import use_client_class
from omega_jupyter.settings import Settings
from omega_jupyter.storage import credentials
from omega_jupyter.storage.engine import Database, get_database

if TYPE_CHECKING:
    from omega_jupyter.datasets import DatasetStore
    from omega_jupyter.jobs import JobStore
    from omega_jupyter.logs import OmegaLogger
    from omega_jupyter.models import ModelStore
    from omega_jupyter.runtime.service import Runtime
    from omega_jupyter.scripts import ScriptStore
    from omega_jupyter.streams import StreamStore


def run_kinds() -> tuple[RunKind, ...]:
    """The kinds of run a client's runtime knows. Adding a kind is its module plus a line
    here; the runtime itself never imports them."""
    # Imported with the first runtime, not the package: nbformat alone takes about a second.
    from omega_jupyter.apps.app_run import APP_RUN
    from omega_jupyter.experiments.monitor_run import MONITOR_RUN
    from omega_jupyter.jobs.notebook_run import NOTEBOOK_RUN
    from omega_jupyter.models.model_run import MODEL_RUN
    from omega_jupyter.scripts.script_run import SCRIPT_RUN

    return (MODEL_RUN, NOTEBOOK_RUN, SCRIPT_RUN, MONITOR_RUN, APP_RUN)


class Omega:
    """Entry point to everything: ``om.datasets``, and a bucket with ``om['other']``.

    Creating a client connects to nothing; the database is opened on first use.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings.replace(**overrides) if settings else Settings.resolve(**overrides)
        self.bucket = validate_bucket(self.settings.bucket)
        url = self.settings.database_url
        own = credentials.database_url_for(url, self.bucket) if url else url
        if own != url:  # a JupyterHub user's credential of one bucket: use this bucket's
            self.settings = self.settings.replace(database_url=own)

    @cached_property
    def db(self) -> Database:
        return get_database(self.settings.resolved_database_url)

    # Each store is imported on its first use (see the module's docstring).
    @cached_property
    def datasets(self) -> DatasetStore:
        from omega_jupyter.datasets import DatasetStore

        return DatasetStore(self.db, self.bucket, self.settings)

    @cached_property
    def models(self) -> ModelStore:
        from omega_jupyter.models import ModelStore

        return ModelStore(self.db, self.bucket, self.settings)

    @cached_property
    def runtime(self) -> Runtime:
        from omega_jupyter.runtime.service import Runtime

        return Runtime(self, RunKinds.of(run_kinds()))

    @cached_property
    def logger(self) -> OmegaLogger:
        from omega_jupyter.logs import OmegaLogger

        return OmegaLogger(self)

    @cached_property
    def jobs(self) -> JobStore:
        from omega_jupyter.jobs import JobStore

        return JobStore(self.db, self.bucket, self.settings)

    @cached_property
    def scripts(self) -> ScriptStore:
        from omega_jupyter.scripts import ScriptStore

        return ScriptStore(self.db, self.bucket, self.settings)

    @cached_property
    def streams(self) -> StreamStore:
        from omega_jupyter.streams import StreamStore

        return StreamStore(self.db, self.bucket, self.settings)

    def __getitem__(self, bucket: str) -> Omega:
        """A client for another bucket of the same database. A session logged in with a
        bucket's credential (PostgreSQL) reaches no other bucket: PermissionDeniedError —
        unless this process was given that bucket's credential too (a JupyterHub user's
        server and kernels: ``credentials.database_url_for``), which the client then uses."""
        bucket = validate_bucket(bucket)
        if bucket == self.bucket:
            return Omega(self.settings)
        url = self.settings.resolved_database_url
        if credentials.database_url_for(url, bucket) == url:
            credentials.check_reachable(self.db, bucket)
        return Omega(self.settings.replace(bucket=bucket))

    def __repr__(self) -> str:
        url = make_url(self.settings.resolved_database_url).render_as_string(hide_password=True)
        return f"Omega(bucket={self.bucket!r}, database={url!r})"


use_client_class(Omega)  # workers open their clients with this class
