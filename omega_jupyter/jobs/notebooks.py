"""Notebook storage: nbformat JSON in chunked blobs, one metadata row per version."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from omega_jupyter.exceptions import ConcurrentWriteError, InvalidNotebookError, ObjectNotFoundError
from omega_jupyter.names import parse_ref, validate_name
from omega_jupyter.storage.blobs import BlobStore
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import Metadata, MetadataStore

NOTEBOOK_KIND = "jupyter.notebook"
WRITE_RETRIES = 8


def to_notebook(obj: Any) -> NotebookNode:
    """A validated NotebookNode from a node, a dict, JSON text/bytes or a path to an .ipynb."""
    try:
        if isinstance(obj, NotebookNode | dict):
            node = nbformat.from_dict(obj)
        elif isinstance(obj, bytes | bytearray):
            node = nbformat.reads(bytes(obj).decode("utf-8"), as_version=4)
        elif isinstance(obj, os.PathLike) or (
            isinstance(obj, str) and not obj.lstrip().startswith("{")
        ):
            path = Path(obj)
            if not path.is_file():
                raise InvalidNotebookError(f"{path} is not a notebook file")
            node = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        elif isinstance(obj, str):
            node = nbformat.reads(obj, as_version=4)
        else:
            raise InvalidNotebookError(
                f"cannot store a {type(obj).__name__} as a notebook: pass a NotebookNode, "
                "a dict, notebook JSON or the path of an .ipynb file"
            )
        if node.get("nbformat", 0) < 4:
            node = nbformat.convert(node, 4)
        nbformat.validate(node)
    except InvalidNotebookError:
        raise
    except (nbformat.ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidNotebookError(f"not a valid notebook: {_first_line(exc)}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidNotebookError(f"not a valid notebook: {_first_line(exc)}") from exc
    return node


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def kernel_name(node: NotebookNode) -> str:
    """The kernel a notebook asks for (``python3`` when it says nothing)."""
    return node.get("metadata", {}).get("kernelspec", {}).get("name") or "python3"


class NotebookBlobs:
    """Notebooks of one store (``jobs`` or ``job_results``) in one bucket."""

    def __init__(self, db: Database, bucket: str, store: str, chunk_bytes: int) -> None:
        self.db = db
        self.meta = MetadataStore(db, bucket, store)
        self.blobs = BlobStore(db, chunk_bytes)

    def put(
        self, node: NotebookNode, name: str, attributes: dict | None = None, keep: int | None = None
    ) -> Metadata:
        validate_name(name)
        self.db.ensure_schema()
        data = nbformat.writes(node).encode("utf-8")
        kind_meta = {
            "kernel": kernel_name(node),
            "cells": len(node.cells),
            "nbformat": node.nbformat,
        }
        for _attempt in range(WRITE_RETRIES):
            try:
                with self.db.begin() as conn:
                    blob_id, size, digest = self.blobs.write(conn, io.BytesIO(data))
                    return self.meta.add_version(
                        conn,
                        name,
                        NOTEBOOK_KIND,
                        location=blob_id,
                        kind_meta={**kind_meta, "sha256": digest},
                        attributes=attributes,
                        size=size,
                        keep=keep,
                        drop_physical=self._drop_physical,
                    )
            except ConcurrentWriteError:
                continue
        raise ConcurrentWriteError(f"gave up writing {name!r}: too many concurrent writers")

    def _drop_physical(self, conn: Any, meta: Metadata) -> None:
        if meta.location:
            self.blobs.delete(conn, meta.location)

    def resolve(self, name: str) -> Metadata:
        return self.meta.resolve(parse_ref(name))

    def read_text(self, meta: Metadata) -> str:
        with self.blobs.open(meta.location or "") as reader:
            return reader.readall().decode("utf-8")

    def get(self, name: str) -> NotebookNode:
        return nbformat.reads(self.read_text(self.resolve(name)), as_version=4)

    def drop(self, name: str, force: bool = False) -> bool:
        versions = self.meta.versions(validate_name(name))
        if not versions:
            if force:
                return False
            raise ObjectNotFoundError(f"{self.meta.store[:-1]} {name!r} does not exist")
        with self.db.begin() as conn:
            for meta in versions:
                self.meta.delete_version(conn, meta, self._drop_physical)
        return True
