"""The Omega client: the stores of one database and bucket, behind one object."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from sqlalchemy.engine import make_url

from omega_jupyter.names import validate_bucket
from omega_jupyter.settings import Settings
from omega_jupyter.storage.engine import Database, get_database


class Omega:
    """Entry point to everything: ``om.datasets``, and a bucket with ``om['other']``.

    Creating a client connects to nothing; the database is opened on first use.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings.replace(**overrides) if settings else Settings.resolve(**overrides)
        self.bucket = validate_bucket(self.settings.bucket)

    @cached_property
    def db(self) -> Database:
        return get_database(self.settings.resolved_database_url)

    @cached_property
    def datasets(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.datasets import DatasetStore

        return DatasetStore(self.db, self.bucket, self.settings)

    @cached_property
    def models(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.models import ModelStore

        return ModelStore(self.db, self.bucket, self.settings)

    @cached_property
    def runtime(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.runtime import Runtime

        return Runtime(self)

    @cached_property
    def logger(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.logs import OmegaLogger

        return OmegaLogger(self)

    @cached_property
    def jobs(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.jobs import JobStore

        return JobStore(self.db, self.bucket, self.settings)

    @cached_property
    def scripts(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.scripts import ScriptStore

        return ScriptStore(self.db, self.bucket, self.settings)

    @cached_property
    def streams(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.streams import StreamStore

        return StreamStore(self.db, self.bucket, self.settings)

    def __getitem__(self, bucket: str) -> Omega:
        """A client for another bucket of the same database."""
        return Omega(self.settings.replace(bucket=validate_bucket(bucket)))

    def __repr__(self) -> str:
        url = make_url(self.settings.resolved_database_url).render_as_string(hide_password=True)
        return f"Omega(bucket={self.bucket!r}, database={url!r})"
