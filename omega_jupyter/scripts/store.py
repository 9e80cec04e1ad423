"""``om.scripts``: script packages stored as wheels, run on workers with ``run(om, **kwargs)``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from omega_jupyter.jobs.store import RunnableStore
from omega_jupyter.names import validate_name
from omega_jupyter.scripts.build import build_wheel, package_dir, top_level_modules
from omega_jupyter.storage.metadata import Metadata

PACKAGE_KIND = "python.package"


class ScriptStore(RunnableStore):
    """The script packages of one bucket; ``drop`` also removes the script's schedule."""

    store_name = "scripts"
    noun = "script"
    kind = "script"

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
        """Store a built wheel as a new version of ``name``."""
        return self._put_blob(name, PACKAGE_KIND, wheel, kind_meta, attributes)

    def get(self, name: str) -> bytes:
        """The stored wheel's bytes (``name@2`` for an older version)."""
        meta = self.metadata(name)
        with self.blobs.open(meta.location or "") as reader:
            return reader.readall()
