"""papermill's engine for warm kernels (imported with papermill, by a notebook run).

Registered under :data:`ENGINE`; ``papermill.execute_notebook(..., engine_name=ENGINE,
warm_kernel=kernel)`` executes on a kernel taken from :mod:`kernel_pool`.
"""

from __future__ import annotations

from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

from omega_jupyter.jobs import kernel_pool


class WarmKernelEngine(NBClientEngine):
    """papermill's nbclient engine, executing on a kernel taken from the pool.

    ``warm_kernel`` (a :class:`kernel_pool.WarmKernel`) is handed to nbclient as its kernel
    manager and its connected client; nbclient then starts and connects nothing, and — not
    owning the kernel — stops neither the client nor the kernel: this engine does both,
    whatever the outcome, so the kernel is used once.
    """

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls, nb_man: Any, kernel_name: str, warm_kernel: Any = None, **kwargs: Any
    ) -> Any:
        if warm_kernel is None:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        kwargs.pop("kernel_manager_class", None)
        try:
            return _run_nbclient(nb_man, kernel_name, warm_kernel, **kwargs)
        finally:
            kernel_pool.pool().retire(warm_kernel)


def _run_nbclient(
    nb_man: Any,
    kernel_name: str,
    warm_kernel: Any,
    log_output: bool = False,
    stdout_file: Any = None,
    stderr_file: Any = None,
    start_timeout: int = 60,
    execution_timeout: int | None = None,
    **kwargs: Any,
) -> Any:
    """What ``NBClientEngine.execute_managed_notebook`` does, on the warm kernel."""
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    kwargs = remove_args(["input_path"], **kwargs)
    safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
    final_kwargs = merge_kwargs(
        safe_kwargs,
        timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
        startup_timeout=start_timeout,
        kernel_name=kernel_name,
        log=logger,
        log_output=log_output,
        stdout_file=stdout_file,
        stderr_file=stderr_file,
    )
    client = PapermillNotebookClient(nb_man, km=warm_kernel.manager, **final_kwargs)
    if warm_kernel.client is not None:  # what nbclient's start_new_kernel_client would do
        client.kc = warm_kernel.client
        client.kc.allow_stdin = False
    return client.execute()


ENGINE = "omega-warm"
papermill_engines.register(ENGINE, WarmKernelEngine)
