"""``om.models``: every put is a new immutable version; tags point at one version each."""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from omega_jupyter.exceptions import (
    InvalidNameError,
    ObjectNotFoundError,
    UntrustedModelError,
)
from omega_jupyter.experiments.tracking import tracking_experiment
from omega_jupyter.models import predict
from omega_jupyter.models.serializers import (
    environment_versions,
    serializer,
    warn_on_version_mismatch,
)
from omega_jupyter.names import ObjectRef, parse_ref, validate_name
from omega_jupyter.storage.metadata import Metadata
from omega_jupyter.storage.objects import VersionedStore
from omega_jupyter.storage.schema import objects


class ModelStore(VersionedStore):
    """The models of one bucket."""

    store_name = "models"
    noun = "model"

    # -- writing --------------------------------------------------------------------------
    def put(
        self,
        model: Any,
        name: str,
        tag: str | None = None,
        attributes: dict | None = None,
        serializer: str = "skops",
        lineage: dict | None = None,
        signature: dict | None = None,
    ) -> Metadata:
        """Store ``model`` as a new version of ``name``; ``tag`` moves that tag to it.

        skops is the default format; objects it cannot represent need ``serializer='joblib'``.
        """
        validate_name(name)
        if tag is not None:
            _validate_tag(tag)
        if attributes is not None and not isinstance(attributes, dict):
            raise TypeError("attributes must be a dict")
        fmt = _serializer(serializer)
        data = fmt.dumps(model)
        kind_meta = {
            "format": fmt.name,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "versions": {**environment_versions(), **fmt.library_versions()},
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if signature:
            kind_meta["signature"] = signature
        attrs = dict(attributes or {})
        attrs["lineage"] = lineage or {}

        def move_tag(conn: Connection, meta: Metadata) -> None:
            if tag is not None:
                self._move_tag(conn, name, meta.version, tag)
                meta.attributes["tags"] = [tag]

        # The blob's digest is the sha256 computed above: the same bytes.
        return self._put_blob(
            name, f"model.{fmt.name}", data, kind_meta, attrs, then=move_tag, what="model "
        )

    def track(self, name: str, experiment: str | None) -> list[int]:
        """Log every prediction of model ``name`` (runtime and REST) into ``experiment``, and
        its fits too (``docs/experiments.md``); ``None`` stops tracking. Applies to every
        version, and new versions saved by fits inherit it. Returns the versions changed."""
        validate_name(name)
        tracking = None if experiment is None else {"experiment": validate_name(experiment)}
        changed = []
        self.db.ensure_schema()
        with self.db.begin() as conn:
            metas = self._locked_versions(conn, name)
            if not metas:
                raise ObjectNotFoundError(f"no model {name!r} in bucket {self.bucket!r}")
            for meta in metas:
                attributes = {k: v for k, v in meta.attributes.items() if k != "tracking"}
                if tracking is not None:
                    attributes["tracking"] = tracking
                self.meta.update(conn, meta, attributes=attributes)
                changed.append(meta.version)
        return changed

    def tracking(self, name: str) -> str | None:
        """The experiment model ``name``'s latest version is tracked in (None: not tracked)."""
        return tracking_experiment(self.metadata(name).attributes)

    def tag(self, name: str, version: int, tag: str) -> Metadata:
        """Point ``tag`` at ``version`` of ``name`` and off any other version, atomically."""
        validate_name(name)
        _validate_tag(tag)
        self.db.ensure_schema()
        with self.db.begin() as conn:
            return self._move_tag(conn, name, int(version), tag)

    def untag(self, name: str, tag: str) -> None:
        """Remove ``tag`` from whichever version of ``name`` carries it."""
        validate_name(name)
        self.db.ensure_schema()
        with self.db.begin() as conn:
            for meta in self._locked_versions(conn, name):
                tags = meta.attributes.get("tags", [])
                if tag in tags:
                    attrs = dict(meta.attributes, tags=[t for t in tags if t != tag])
                    self.meta.update(conn, meta, attributes=attrs)

    def _move_tag(self, conn: Connection, name: str, version: int, tag: str) -> Metadata:
        metas = self._locked_versions(conn, name)
        target = next((m for m in metas if m.version == version), None)
        if target is None:
            if not metas:
                raise ObjectNotFoundError(f"model {name!r} does not exist")
            raise ObjectNotFoundError(f"model {name!r} has no version {version}")
        for meta in metas:
            tags = list(meta.attributes.get("tags", []))
            if meta is target and tag not in tags:
                tags.append(tag)
            elif meta is not target and tag in tags:
                tags.remove(tag)
            else:
                continue
            self.meta.update(conn, meta, attributes=dict(meta.attributes, tags=tags))
        return target

    def _locked_versions(self, conn: Connection, name: str) -> list[Metadata]:
        query = (
            sa.select(objects)
            .where(
                (objects.c.bucket == self.bucket)
                & (objects.c.store == self.store_name)
                & (objects.c.name == name)
            )
            .order_by(objects.c.version)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()  # SQLite: BEGIN IMMEDIATE already serializes writers
        return [Metadata.from_row(r) for r in conn.execute(query)]

    # -- reading --------------------------------------------------------------------------
    def metadata(self, name: str) -> Metadata:
        """The version ``name`` refers to (``m``, ``m@3``, ``m@prod``, ``m^``)."""
        return self.meta.resolve(self._ref(name))

    def describe(self, name: str) -> dict[str, Any]:
        """What a listing or detail view shows of a model: the version ``name`` refers to, its
        class, format, signature and tags, and every kept version with its tags."""
        meta = self.metadata(name)
        versions = self.versions(meta.name)
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

    def get(self, name: str, cached: bool = False) -> Any:
        """Load a model version. ``cached=True`` may return a shared instance (read-only use)."""
        return self.load(self.metadata(name), cached=cached)

    def load(self, meta: Metadata, cached: bool = False) -> Any:
        """The model of version ``meta``. ``cached=True`` may return the instance other
        read-only calls share (``models.predict.LOADED``): it must not be changed."""
        if cached:
            return predict.LOADED.get(self, meta)
        return self._load(meta)

    def read_bytes(self, meta: Metadata) -> bytes:
        """The stored file of a version (skops or joblib format), checked against its sha256."""
        with self.blobs.open(meta.location or "") as reader:
            data = reader.readall()
        if hashlib.sha256(data).hexdigest() != meta.kind_meta.get("sha256"):
            raise UntrustedModelError(
                f"model {meta.name!r} version {meta.version}: stored bytes do not match their "
                "sha256; refusing to load"
            )
        return data

    def _load(self, meta: Metadata) -> Any:
        km = meta.kind_meta
        data = self.read_bytes(meta)
        model = _serializer(km.get("format", "")).loads(data, self.settings.trust_pickle)
        warn_on_version_mismatch(meta.name, meta.version, km.get("versions", {}))
        return model

    def _version_columns(self, metas: list[Metadata]) -> dict[str, list]:
        """Every version: version, created, tags, size, format, lineage summary."""
        return {
            "version": [m.version for m in metas],
            "created": [m.created for m in metas],
            "tags": [",".join(m.attributes.get("tags", [])) for m in metas],
            "size": [m.size for m in metas],
            "format": [m.kind_meta.get("format") for m in metas],
            "lineage": [lineage_summary(m.attributes.get("lineage") or {}) for m in metas],
        }

    def drop(self, name: str, version: int | None = None, force: bool = False) -> bool:
        """Remove every version of ``name`` (or one ``version``). Missing: error, or False."""
        validate_name(name)
        self.db.ensure_schema()
        with self.db.begin() as conn:
            metas = self._locked_versions(conn, name)
            if version is not None:
                metas = [m for m in metas if m.version == int(version)]
            if not metas:
                if force:
                    return False
                what = f"model {name!r}" + (f" version {version}" if version else "")
                raise ObjectNotFoundError(f"{what} does not exist")
            for meta in metas:
                self.meta.delete_version(conn, meta, self._drop_physical)
        return True

    def _ref(self, name: str) -> ObjectRef:
        ref = parse_ref(name)
        if ref.columns:
            raise InvalidNameError(f"{name!r}: column selections apply to datasets, not models")
        return ref


def lineage_summary(lineage: dict) -> str:
    """One line: what a version was made from (``fit of X@1, Y@1 in run 3f2a…``)."""
    if not lineage:
        return ""
    data = ", ".join(f"{d['name']}@{d['version']}" for d in lineage.get("datasets", []))
    text = lineage.get("action", "put")
    if lineage.get("source_version"):
        text += f" of v{lineage['source_version']}"
    if data:
        text += f" on {data}"
    if lineage.get("run_id"):
        text += f" (run {lineage['run_id'][:8]})"
    return text


def _validate_tag(tag: object) -> str:
    if not isinstance(tag, str) or not tag or tag.isdigit() or set("[]@^,") & set(tag):
        raise InvalidNameError(
            f"tag {tag!r} is invalid: a non-numeric name without [ ] @ ^ or commas"
        )
    return validate_name(tag)


def _serializer(name: str):  # type: ignore[no-untyped-def]
    return serializer(name)
