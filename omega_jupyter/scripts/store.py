"""``om.scripts``: script packages stored as wheels, run on workers with ``run(om, **kwargs)``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from omega_jupyter.exceptions import ConcurrentWriteError, ObjectNotFoundError
from omega_jupyter.jobs.store import runs_frame
from omega_jupyter.names import parse_ref, validate_name
from omega_jupyter.scripts.build import build_wheel, package_dir, top_level_modules
from omega_jupyter.settings import Settings
from omega_jupyter.storage.blobs import BlobStore
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import Metadata, MetadataStore

PACKAGE_KIND = "python.package"


class ScriptStore:
    """The script packages of one bucket."""

    store_name = "scripts"
    kind = "script"

    def __init__(self, db: Database, bucket: str, settings: Settings) -> None:
        self.db = db
        self.bucket = bucket
        self.settings = settings
        self.meta = MetadataStore(db, bucket, self.store_name)
        self.blobs = BlobStore(db, settings.blob_chunk_bytes)

    def put(self, path: str | Path, name: str, attributes: dict | None = None) -> Metadata:
        """Build the package at ``path`` (folder, setup.py or pyproject.toml) into a wheel and
        store it as a new version of ``name``. A package that fails to build stores nothing."""
        validate_name(name)
        source = package_dir(path)
        with tempfile.TemporaryDirectory(prefix="omega-wheel-") as out:
            wheel = build_wheel(source, Path(out))
            modules = top_level_modules(wheel)
            kind_meta = {"filename": wheel.name, "modules": modules, "source": source.name}
            return self._store(wheel, name, kind_meta, attributes)

    def _store(self, wheel: Path, name: str, kind_meta: dict, attributes: dict | None) -> Metadata:
        self.db.ensure_schema()
        for _attempt in range(8):
            try:
                with self.db.begin() as conn, wheel.open("rb") as handle:
                    blob_id, size, digest = self.blobs.write(conn, handle)
                    return self.meta.add_version(
                        conn,
                        name,
                        PACKAGE_KIND,
                        location=blob_id,
                        kind_meta={**kind_meta, "sha256": digest},
                        attributes=attributes,
                        size=size,
                        keep=None,
                        drop_physical=self._drop_physical,
                    )
            except ConcurrentWriteError:
                continue
        raise ConcurrentWriteError(f"gave up writing {name!r}: too many concurrent writers")

    def _drop_physical(self, conn: Any, meta: Metadata) -> None:
        if meta.location:
            self.blobs.delete(conn, meta.location)

    def metadata(self, name: str) -> Metadata:
        return self.meta.resolve(parse_ref(name))

    def get(self, name: str) -> bytes:
        """The stored wheel's bytes (``name@2`` for an older version)."""
        meta = self.metadata(name)
        with self.blobs.open(meta.location or "") as reader:
            return reader.readall()

    def exists(self, name: str) -> bool:
        try:
            self.metadata(name)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, pattern: str | None = None, raw: bool = False) -> list[Any]:
        metas = self.meta.list(pattern)
        return metas if raw else [m.name for m in metas]

    def drop(self, name: str, force: bool = False) -> bool:
        versions = self.meta.versions(validate_name(name))
        if not versions:
            if force:
                return False
            raise ObjectNotFoundError(f"script {name!r} does not exist")
        with self.db.begin() as conn:
            for meta in versions:
                self.meta.delete_version(conn, meta, self._drop_physical)
        self.schedules_store.delete(self.kind, name, missing_ok=True)
        return True

    def runs(self, name: str, limit: int | None = 100) -> pd.DataFrame:
        """Runs of a script, newest first."""
        return runs_frame(self.db, self.bucket, self.kind, validate_name(name), limit)

    # -- schedules ------------------------------------------------------------------------
    @property
    def schedules_store(self):  # type: ignore[no-untyped-def]
        from omega_jupyter.jobs.schedules import ScheduleStore

        return ScheduleStore(self.db, self.bucket)

    def schedule(
        self,
        name: str,
        when: str,
        parameters: dict | None = None,
        missed: str = "once",
        max_retries: int = 0,
        timezone: str | None = None,
    ) -> dict:
        """Run the script on a schedule; ``parameters`` are its keyword arguments."""
        self.metadata(name)
        return self.schedules_store.put(
            self.kind, name, when, parameters, missed, max_retries, timezone
        )

    def unschedule(self, name: str) -> bool:
        return self.schedules_store.delete(self.kind, validate_name(name))

    def schedules(self, name: str | None = None) -> pd.DataFrame:
        return self.schedules_store.frame(self.kind, name)
