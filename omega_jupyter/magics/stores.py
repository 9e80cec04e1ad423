"""Which store an object lives in, or should go to, when a magic is not told."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from omega_jupyter.names import parse_ref

STORES = ("datasets", "models", "jobs", "scripts")


def store_of(om: Any, store: str) -> Any:
    """``om.datasets`` etc. by name."""
    if store not in STORES:
        raise UsageError(f"unknown store {store!r}; use one of {', '.join(STORES)}")
    return getattr(om, store)


def find_store(om: Any, name: str, store: str | None = None, among: tuple = STORES) -> str:
    """The store holding ``name`` (``store`` if given). Unknown or ambiguous names are errors
    that say what to do."""
    if store is not None:
        store_of(om, store)
        return store
    plain = parse_ref(name).name
    found = [s for s in among if getattr(om, s).exists(plain)]
    if not found:
        raise UsageError(
            f"no object named {plain!r} in {', '.join(among)} "
            "(see %om ls; names are case-sensitive)"
        )
    if len(found) > 1:
        raise UsageError(
            f"{plain!r} exists in {' and '.join(found)}: add --store {found[0]} (or another)"
        )
    return found[0]


def store_for_object(obj: Any) -> str:
    """Where ``%om put`` sends an object: notebooks → jobs, estimators → models, data →
    datasets."""
    import numpy as np
    import pandas as pd
    from nbformat import NotebookNode

    if isinstance(obj, NotebookNode):
        return "jobs"
    if isinstance(obj, pd.DataFrame | pd.Series | np.ndarray | dict | list | tuple | bytes | str):
        return "datasets"
    if callable(getattr(obj, "fit", None)) or callable(getattr(obj, "predict", None)):
        return "models"
    return "datasets"
