"""omega_jupyter: datasets, models, notebooks and scripts in one database, run on Dask.

``import omega_jupyter as om`` gives a lazily created default client: ``om.datasets.put(df,
'sales')`` works with no setup, and nothing connects at import time. ``om.setup(...)`` makes an
explicit client; ``om['team-a']`` is the default client bound to another bucket.

``om.datasets``, ``om.models``, ``om.jobs``, ``om.scripts``, ``om.streams``, ``om.runtime`` and
``om.settings`` are therefore the default client's, not the subpackages of the same names: reach
those by their full name (``from omega_jupyter.datasets import DatasetStore``), never through the
package attribute (``from omega_jupyter import datasets`` and ``import omega_jupyter.jobs.x as y``
get the client's object). ``python -m omega_jupyter.devtools.imports`` refuses such imports.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omega_jupyter.client import Omega
    from omega_jupyter.settings import Settings

# ``Omega`` and ``Settings`` are imported on first use (module ``__getattr__`` below): the
# client pulls in pandas, SQLAlchemy and Dask, and ``om --help`` or a magic's help must not
# pay for them. ``tests/cli/test_cli_imports.py`` keeps the import set of the CLI small.
_LAZY = {"Omega": "omega_jupyter.client", "Settings": "omega_jupyter.settings"}

__version__ = "0.1.0"
__all__ = ["Omega", "Settings", "get_default", "load_ipython_extension", "setup"]

_default: Omega | None = None
_default_lock = threading.Lock()
_DELEGATED = {
    "datasets",
    "db",
    "settings",
    "bucket",
    "models",
    "runtime",
    "logger",
    "jobs",
    "scripts",
    "streams",
}


def setup(
    url: str | None = None, bucket: str | None = None, dask: Any = None, **settings: Any
) -> Omega:
    """An explicit client. ``url`` is a SQLAlchemy URL (default: SQLite in ``OMEGA_HOME``);
    ``dask`` a scheduler address or a ``distributed.Client`` for the runtime."""
    from omega_jupyter.client import Omega

    address = dask if dask is None or isinstance(dask, str) else None
    client = Omega(**{"database_url": url, "bucket": bucket, "dask_address": address, **settings})
    if address is None and dask is not None:
        client.runtime.use_client(dask)
    return client


def get_default() -> Omega:
    """The process-wide default client, created from settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
            from omega_jupyter.client import Omega

            _default = Omega()
        return _default


def reset_default() -> None:
    """Forget the default client (settings are resolved again on next use)."""
    global _default
    with _default_lock:
        _default = None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext omega_jupyter``: registers the ``%om``/``%%om`` magics."""
    from omega_jupyter.magics import register  # IPython is imported only here

    register(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """jupyter-server finds the REST extension here (enabled by jupyter_server_config.d)."""
    # The REST extension's modules import tornado and jupyter_server: only Jupyter asks here.
    from omega_jupyter.server import _jupyter_server_extension_points as points

    return points()


class _OmegaModule(types.ModuleType):
    def __getitem__(self, bucket: str) -> Omega:
        return get_default()[bucket]


def _delegate(name: str) -> property:
    """``om.<name>`` is the default client's, even after the subpackage of the same name
    (``omega_jupyter.datasets`` …) was imported and bound on the package by the import system;
    a module-level ``__getattr__`` alone would then never be asked."""

    def get(module: types.ModuleType) -> Any:
        return getattr(get_default(), name)

    def bind(module: types.ModuleType, value: Any) -> None:
        module.__dict__[name] = value  # the import system binding a subpackage

    return property(get, bind)


for _name in _DELEGATED:
    setattr(_OmegaModule, _name, _delegate(_name))


def __getattr__(name: str) -> Any:
    if name in _DELEGATED:
        return getattr(get_default(), name)
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'omega_jupyter' has no attribute {name!r}")


sys.modules[__name__].__class__ = _OmegaModule
