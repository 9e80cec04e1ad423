"""Notebook runs, a kind of run: ``om.runtime.job(name).run(parameters={...})``.

On the worker the notebook runs with papermill through ``omega://``; the run's settings
(database, bucket) travel with the task and are handed to the kernel's environment, so
``import omega_jupyter as om`` inside the notebook talks to the run's store. The run
lifecycle around it is the runtime's (``runtime/lifecycle.py``).
"""

from __future__ import annotations

import ast
import asyncio
import contextvars
import math
import re
import tempfile
import threading
import time
import traceback as tb
from collections.abc import Callable
from typing import Any

import nbformat

from omega_jupyter.exceptions import (
    InvalidParameterError,
    ObjectNotFoundError,
    UnknownKernelError,
)
from omega_jupyter.jobs import kernel_pool
from omega_jupyter.jobs.kernel_pool import kernel_manager_class
from omega_jupyter.jobs.notebooks import kernel_name
from omega_jupyter.jobs.papermill_io import SCHEME, route
from omega_jupyter.logs.logger import current_run
from omega_jupyter.names import validate_name
from omega_jupyter.runtime.events import check_stream
from omega_jupyter.runtime.handle import RunHandle
from omega_jupyter.runtime.kinds import Outcome, Run, RunKind
from omega_jupyter.runtime.worker import run_env

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PROGRESS_MIN_INTERVAL = 0.2  # seconds between progress writes, so tiny cells cost nothing


class JobRunner:
    """``om.runtime.job(name)``: run a stored notebook on the cluster."""

    def __init__(self, runtime: Any, name: str) -> None:
        self.runtime = runtime
        self.om = runtime.om
        self.name = validate_name(name)

    def run(
        self,
        parameters: dict | None = None,
        timeout: float | None = None,
        result_stream: str | None = None,
        max_retries: int | None = None,
    ) -> RunHandle:
        """Execute the notebook with papermill on a worker; returns the run's handle.

        ``parameters`` are injected after the cell tagged ``parameters``; ``timeout`` (seconds)
        limits the whole job from kernel start, and so each cell; ``result_stream`` names a
        stream that gets a ``started`` and a ``finished`` message of the run;
        ``max_retries`` (default 0: a notebook may have written half its outputs) how often
        the run is tried again should it lose its worker.
        """
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError("parameters must be a dict")
        result_stream = check_stream(result_stream)
        meta = self.om.jobs.metadata(self.name)  # unknown jobs fail here, before any run row
        return self.runtime.start(
            "job",
            self.name,
            version=meta.version,
            parameters=dict(parameters or {}),
            result_stream=result_stream,
            max_retries=max_retries,
            timeout=timeout,
        )

    def map(
        self,
        parameter_sets: Any,
        param: str | None = None,
        max_parallel: int | None = None,
        timeout: float | None = None,
        result_stream: str | None = None,
        max_retries: int | None = None,
    ) -> Any:
        """Run the notebook once for each parameter set, as a run group (``RunGroup``).

        ``parameter_sets``: dicts of parameters, or plain values bound to the parameter named
        ``param`` (``map(stores, param="store")``); ``max_parallel`` members run at once
        (default: the cluster's threads); every member is an ordinary run (its own executed
        notebook, error, ``timeout`` and ``max_retries``); ``om.runtime.group(id)`` finds the
        group again from any process.
        """
        result_stream = check_stream(result_stream)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise InvalidParameterError(f"timeout must be a number of seconds, not {timeout!r}")
        meta = self.om.jobs.metadata(self.name)  # unknown jobs fail here, before any row
        return self.runtime.map(
            "job",
            self.name,
            parameter_sets,
            param=param,
            max_parallel=max_parallel,
            version=meta.version,
            max_retries=max_retries,
            result_stream=result_stream,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"JobRunner({self.name!r})"


class JobDeadline:
    """Kills the run's kernel when the whole job exceeds ``seconds`` (counted from kernel
    start); the execution then fails and the run records the timeout."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expired = False
        self._timer: threading.Timer | None = None

    def arm(self, manager: Any) -> None:
        if not self.seconds:
            return

        def expire() -> None:
            self.expired = True
            process = getattr(getattr(manager, "provisioner", None), "process", None)
            if process is not None:
                process.kill()

        self._timer = threading.Timer(self.seconds, expire)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _kernel_manager_class(env: dict[str, str], cwd: str, deadline: JobDeadline) -> type:
    """A cold run's kernel manager (``kernel_pool.kernel_manager_class``), its deadline armed
    once the kernel runs."""
    return kernel_manager_class(env, cwd, on_start=deadline.arm)


def check_kernel(name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        raise UnknownKernelError(
            f"the notebook asks for kernel {name!r}, which is not installed on the worker "
            f"(installed: {known})"
        ) from None


class OutputCapture:
    """Receives papermill's saves of the output notebook: keeps the newest, reports progress."""

    def __init__(self, report: Callable[[dict], None]) -> None:
        self.text: str | None = None
        self._report = report
        self._last = 0.0

    def __call__(self, buf: str) -> None:
        self.text = buf
        now = time.monotonic()
        if now - self._last < PROGRESS_MIN_INTERVAL:
            return
        self._last = now
        try:
            self._report(self.progress())
        except Exception:  # progress is informative; never fail the run for it
            pass

    def progress(self) -> dict:
        node = nbformat.reads(self.text or "{}", as_version=4) if self.text else None
        cells = [c for c in (node.cells if node else []) if c.cell_type == "code"]
        status = [c.get("metadata", {}).get("papermill", {}).get("status") for c in cells]
        done = sum(s in ("completed", "failed") for s in status)
        return {"cells_done": done, "cells_total": len(cells)}


def execute(run: Run) -> Outcome:
    """Execute a job for a recorded run with papermill; keep the executed notebook (also a
    failed one) as a result linked to the run; per-cell progress goes to the run row."""
    om, run_id, name = run.om, run.id, run.name
    capture = OutputCapture(run.progress)
    error: tuple[str, str] | None = None
    # the version recorded at submission runs, even if the notebook was replaced meanwhile
    ref = f"{name}@{run.version}" if run.version else name
    try:
        error = _execute(om, run_id, ref, run.parameters, run.spec, capture)
    except Exception as exc:  # a bad notebook, an unknown kernel, the store unreachable
        error = (f"{type(exc).__name__}: {exc}", tb.format_exc())
    result = _store_result(om, run_id, name, capture, error)
    if capture.text:
        run.progress(capture.progress())
    state, message, trace = ("failed", *error) if error else ("succeeded", None, None)
    return Outcome(state, result, _notebook_ref(result), message, trace)


def _notebook_ref(result: dict | None) -> dict | None:
    """The executed notebook as a published event names it (``om.jobs.result(run_id)``)."""
    if not result:
        return None
    return {"type": "notebook", "name": result["result"], "version": result["result_version"]}


def _execute(
    om: Any,
    run_id: str,
    name: str,
    parameters: dict,
    spec: dict,
    capture: OutputCapture,
) -> tuple[str, str] | None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from omega_jupyter.jobs.papermill_engine import ENGINE

    node = om.jobs.get(name)
    kernel = kernel_name(node)
    check_kernel(kernel)
    source, target = f"{SCHEME}run-{run_id}/input.ipynb", f"{SCHEME}run-{run_id}/output.ipynb"
    env = run_env(om.settings, om.bucket)
    deadline = JobDeadline(spec.get("timeout"))
    # a kernel started ahead for this kernel name and environment (bucket, credential), used
    # once (kernel_pool); None: this run starts its own
    warm = kernel_pool.pool().take(kernel, env, om.settings.warm_kernels)
    if warm is not None:
        deadline.arm(warm.manager)
        engine = {"engine_name": ENGINE, "warm_kernel": warm}
    with (
        route(source, om, name=name),
        route(target, om, on_write=capture),
        tempfile.TemporaryDirectory(prefix="omega-job-") as cwd,
    ):
        if warm is None:
            engine = {"kernel_manager_class": _kernel_manager_class(env, cwd, deadline)}
        try:
            in_own_event_loop(
                run_id,
                papermill.execute_notebook,
                source,
                target,
                parameters=parameters,
                kernel_name=kernel,
                progress_bar=False,
                # nbclient takes whole seconds per cell; the deadline keeps the exact total
                execution_timeout=math.ceil(deadline.seconds) if deadline.seconds else None,
                **engine,
            )
        except Exception as exc:
            if deadline.expired:
                message = f"the job exceeded its timeout of {deadline.seconds:g} s"
                return (message, f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, PapermillExecutionError):
                raise
            cell = f"cell {exc.exec_count}" if exc.exec_count else "a cell"
            trace = _ANSI.sub("", "\n".join(exc.traceback))
            return (f"{cell} failed: {exc.ename}: {exc.evalue}", trace)
        finally:
            deadline.cancel()
            if warm is not None:  # the engine retired it, unless papermill failed before
                kernel_pool.pool().retire(warm)
    return None


def in_own_event_loop(run_id: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` (papermill) with an event loop of its own, closed afterwards.

    nbclient runs its coroutines on the event loop ``jupyter_core`` keeps in a context
    variable, and Dask runs each task in a copy of the context its worker's coroutines were
    started in: once any code in the process had set that variable (papermill run in a
    kernel's or a test's main thread before the local cluster started), every task inherited
    the same loop, and two notebooks running at once failed with "This event loop is already
    running". A fresh context (with only the run's id, for its log lines) gets a new loop."""
    from jupyter_core.utils import ensure_event_loop

    def body() -> Any:
        current_run.set(run_id)
        loop = ensure_event_loop()
        try:
            return fn(*args, **kwargs)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    return contextvars.Context().run(body)


def _store_result(
    om: Any, run_id: str, name: str, capture: OutputCapture, error: tuple | None
) -> dict | None:
    """Keep the executed notebook (also a failed one) as a result linked to the run."""
    if not capture.text:
        return None
    try:
        node = nbformat.reads(capture.text, as_version=4)
        attributes = {"run_id": run_id, "job": name, "failed": bool(error)}
        meta = om.jobs.results_store.put(node, f"{name}/{run_id}", attributes=attributes)
    except (ObjectNotFoundError, ValueError, OSError):
        return None
    return {"result": meta.name, "result_version": meta.version}


def result_of(om: Any, record: Any, output: str | None) -> Any:
    """A succeeded notebook run's executed notebook, or with ``output`` the value of the last
    output of the cell tagged ``output`` (a run group's ``results(output)``)."""
    node = om.jobs.result(record.id)
    if output is None:
        return node
    cells = [c for c in node.cells if output in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ObjectNotFoundError(f"the notebook has no cell tagged {output!r}")
    return cell_value(cells[-1])


def cell_value(cell: Any) -> Any:
    """The last value a cell shows: JSON output as is, plain text as a Python literal if it is
    one (``{'total': 3}``, ``42``), else the text; None if it shows nothing."""
    for out in reversed(cell.get("outputs", [])):
        data = out.get("data") or {}
        if "application/json" in data:
            return data["application/json"]
        text = data.get("text/plain") if data else out.get("text")
        if text is None:
            continue
        text = "".join(text) if isinstance(text, list) else str(text)
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text.strip()
    return None


NOTEBOOK_RUN = RunKind("job", execute, front=JobRunner, noun="notebook", result_of=result_of)
