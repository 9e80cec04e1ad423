"""Notebooks as jobs: the notebook store, papermill execution on Dask, and the scheduler."""

from omega_jupyter.jobs.store import JobStore

__all__ = ["JobStore"]
