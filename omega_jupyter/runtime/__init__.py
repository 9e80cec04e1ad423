"""The runtime: model actions on Dask, recorded as runs, followed through RunHandles."""

from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.service import ModelRuntime, Runtime

__all__ = ["ModelRuntime", "RunHandle", "Runtime"]
