"""Notebook storage: nbformat JSON in chunked blobs, one metadata row per version."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from omega_jupyter.exceptions import InvalidNotebookError
from omega_jupyter.names import validate_name
from omega_jupyter.settings import Settings
from omega_jupyter.storage.engine import Database
from omega_jupyter.storage.metadata import Metadata
from omega_jupyter.storage.objects import VersionedStore

NOTEBOOK_KIND = "jupyter.notebook"


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


PYTHON_KERNELSPEC = {
    "name": "python3",
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
}


def python_language_info() -> dict:
    """``language_info`` as the Python kernel of this interpreter writes it."""
    import platform

    return {
        "name": "python",
        "version": platform.python_version(),
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "pygments_lexer": "ipython3",
        "nbconvert_exporter": "python",
    }


def complete_kernel(node: NotebookNode) -> NotebookNode:
    """A job notebook that says which kernel and language run it.

    A notebook written by a tool (or by hand) often has neither; papermill then stops with "No
    language found". One without a kernelspec gets the Python kernel (``python3``) when its
    language is Python or unstated; another language without a kernelspec is refused, as is a
    kernelspec without a language for a kernel not installed here (nothing tells its language).
    ``language_info`` is filled in for Python notebooks. The node is changed in place.
    """
    meta = node.setdefault("metadata", {})
    spec = dict(meta.get("kernelspec") or {})
    info = dict(meta.get("language_info") or {})
    language = spec.get("language") or info.get("name")
    if not spec.get("name"):
        if language and str(language).lower() != "python":
            raise InvalidNotebookError(
                f"the notebook's language is {language!r} but it names no kernel: set "
                "metadata.kernelspec (name, display_name, language) to the kernel that runs it"
            )
        spec = {**PYTHON_KERNELSPEC, **{k: v for k, v in spec.items() if v}}
        spec["language"] = "python"
    elif not language:
        language = _installed_language(spec["name"])
        if language is None:
            raise InvalidNotebookError(
                f"the notebook names kernel {spec['name']!r} but no language, and that kernel "
                "is not installed here to tell it: set metadata.kernelspec.language"
            )
        spec["language"] = language
    spec.setdefault("display_name", spec["name"])
    spec.setdefault("language", language)
    meta["kernelspec"] = spec
    if str(spec["language"]).lower() == "python" and not info.get("name"):
        meta["language_info"] = {**python_language_info(), **info}
    return node


def _installed_language(kernel: str) -> str | None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(kernel).language or None
    except NoSuchKernel:
        return None


# What an editor or kernel changes in a notebook just by opening it: not a change of content.
_EDITOR_FILLED = ("language_info",)


def _content(node: NotebookNode) -> str:
    """A notebook's content as canonical JSON, without cell ids, ``nbformat_minor`` and the
    metadata a kernel fills in (see :func:`same_notebook`)."""
    # Through nbformat's own JSON: multi-line text as one string whether it came as lines.
    data = json.loads(json.dumps(nbformat.reads(nbformat.writes(node), as_version=4)))
    data.pop("nbformat_minor", None)
    for key in _EDITOR_FILLED:
        data.get("metadata", {}).pop(key, None)
    for cell in data.get("cells", []):
        cell.pop("id", None)
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def same_notebook(a: NotebookNode, b: NotebookNode) -> bool:
    """Whether two notebooks have the same content: the same cells (source, outputs,
    execution counts, metadata) and notebook metadata. Cell ids, ``nbformat_minor`` and
    ``language_info`` (set by a kernel when the notebook is opened) do not count."""
    return _content(a) == _content(b)


def kernel_name(node: NotebookNode) -> str:
    """The kernel a notebook asks for (``python3`` when it says nothing)."""
    return node.get("metadata", {}).get("kernelspec", {}).get("name") or "python3"


class NotebookBlobs(VersionedStore):
    """Notebooks of one store (``jobs`` or ``job_results``) in one bucket."""

    def __init__(self, db: Database, bucket: str, settings: Settings, store: str) -> None:
        super().__init__(db, bucket, settings, store_name=store)
        self.noun = store[:-1]

    def put(
        self, node: NotebookNode, name: str, attributes: dict | None = None, keep: int | None = None
    ) -> Metadata:
        validate_name(name)
        data = nbformat.writes(node).encode("utf-8")
        kind_meta = {
            "kernel": kernel_name(node),
            "cells": len(node.cells),
            "nbformat": node.nbformat,
        }
        return self._put_blob(name, NOTEBOOK_KIND, data, kind_meta, attributes, keep=keep)

    def resolve(self, name: str) -> Metadata:
        return self.metadata(name)

    def read_text(self, meta: Metadata) -> str:
        with self.blobs.open(meta.location or "") as reader:
            return reader.readall().decode("utf-8")

    def get(self, name: str) -> NotebookNode:
        return self.get_version(self.resolve(name))

    def get_version(self, meta: Metadata) -> NotebookNode:
        return nbformat.reads(self.read_text(meta), as_version=4)
