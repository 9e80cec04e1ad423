"""Datasets: DataFrames, Series, arrays, Python data and files."""

from omega_jupyter.datasets.store import DatasetStore

__all__ = ["DatasetStore"]
