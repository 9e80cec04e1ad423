"""Warm kernels for notebook runs: a few kernels started ahead of the runs that will use them.

Policy (``docs/configuration.md``, "Warm kernels"):

- **used once**: a kernel executes one run, then is shut down; it never sees a second run's
  code, so no variable, import, working directory or environment change carries over;
- **replaced at once**: taking a kernel asks the pool's thread to start its replacement
  in the background, so the next run finds one ready; a run that finds none ready but one
  starting waits for it (it is ahead of any kernel the run would start); the first run of a
  kind of kernel in a process starts cold and fills the pool;
- **never shared**: kernels are kept per kernel name and the exact environment the run's
  kernel gets (``worker.run_env``: the database URL — on PostgreSQL the bucket's own
  credential —, the bucket, home), so a kernel started for one bucket or credential serves
  only runs of that bucket with that credential;
- **bounded**: at most ``warm_kernels`` idle kernels per key and :data:`MAX_KEYS` keys per
  process; the least recently used key's kernels are shut down when a new key needs room.

A kernel counts as ready once it answered a ``kernel_info`` request (no code runs for it).
Each kernel has a private temporary directory (its working directory and its IPC sockets),
removed with it. Starting and shutting down happen on the pool's own thread and event loop;
the client connected there is used by the run in its own event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("omega_jupyter.jobs")

MAX_KEYS = 4  # kernel names × environments kept warm in one process
WAIT_FOR_STARTING = 60.0  # a run waits this long at most for a kernel already starting
SHUTDOWN_WAIT = 5.0  # seconds a used kernel gets to exit on its own before it is killed
# what nbclient passes an IPython kernel it starts itself: the same for a warm one
IPYKERNEL_ARGS = ["--HistoryManager.hist_file=:memory:"]

Key = tuple[str, tuple[tuple[str, str], ...]]


def pool_key(kernel_name: str, env: dict[str, str]) -> Key:
    return (kernel_name, tuple(sorted(env.items())))


def kernel_manager_class(env: dict[str, str], cwd: str, on_start: Any = None) -> type:
    """A kernel manager that starts its kernel in ``cwd`` with exactly ``env`` (the worker's
    environment is not inherited), over IPC sockets in ``cwd``; ``on_start(manager)`` is
    called once the kernel process runs.

    The working directory goes to the kernel process only: papermill's own ``cwd`` changes
    the directory of the whole worker process, which concurrent runs in threads would race on.
    IPC (Unix sockets in the run's private temporary folder) instead of TCP on localhost: no
    other local user can reach the kernel's ports, and the kernel does not warn about
    unencrypted TCP on every run.
    """
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.pop("env", None)
            kw["cwd"] = cwd
            self.transport = "ipc"
            self.ip = os.path.join(cwd, "kernel")
            await super().start_kernel(env=dict(env), **kw)
            if on_start is not None:
                on_start(self)

    return RunKernelManager


@dataclass
class WarmKernel:
    """A started kernel nobody used yet: its manager, private directory and a client already
    connected to it (the run's nbclient talks through it: no connecting on the hot path)."""

    key: Key
    manager: Any
    cwd: str
    client: Any = None
    taken: bool = field(default=False)
    retired: bool = field(default=False)

    def alive(self) -> bool:
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        return process is not None and process.poll() is None


class KernelPool:
    """The process's warm kernels (one pool per worker process: :func:`pool`)."""

    def __init__(self) -> None:
        self._idle: OrderedDict[Key, list[WarmKernel]] = OrderedDict()
        self._starting: dict[Key, int] = {}
        self._lock = threading.Condition()  # notified when a start ends
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.started = 0  # kernels started by the pool (for tests and benchmarks)
        self.taken = 0

    # -- runs ---------------------------------------------------------------------------------
    def take(self, kernel_name: str, env: dict[str, str], size: int) -> WarmKernel | None:
        """A ready kernel for this kernel name and environment (None: start one cold), and
        replacements started in the background up to ``size`` idle ones."""
        if size <= 0:
            return None
        key = pool_key(kernel_name, env)
        found: WarmKernel | None = None
        dead: list[WarmKernel] = []
        deadline = time.monotonic() + WAIT_FOR_STARTING
        with self._lock:
            idle = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            while True:
                while idle:
                    candidate = idle.pop(0)
                    if candidate.alive():
                        found = candidate
                        found.taken = True
                        self.taken += 1
                        break
                    dead.append(candidate)
                left = deadline - time.monotonic()
                if found is not None or not self._starting.get(key) or left <= 0:
                    break
                # a kernel for this key is starting, ahead of any this run would start cold
                self._lock.wait(left)
                idle = self._idle.setdefault(key, [])
            missing = size - len(idle) - self._starting.get(key, 0)
            if missing > 0:
                self._starting[key] = self._starting.get(key, 0) + missing
            evicted = self._evict(key)
        for kernel in dead + evicted:
            self._submit(("stop", kernel))
        for _ in range(max(0, missing)):
            self._submit(("start", (key, kernel_name, dict(env), size)))
        return found

    def retire(self, kernel: WarmKernel) -> None:
        """A used (or taken and unused) kernel: shut it down in the background (graceful,
        then killed); once, however often it is retired."""
        with self._lock:
            if kernel.retired:
                return
            kernel.retired = True
        self._submit(("stop", kernel))

    def idle(self, kernel_name: str, env: dict[str, str]) -> int:
        """How many kernels are ready for this kernel name and environment."""
        with self._lock:
            return len(self._idle.get(pool_key(kernel_name, env), []))

    def fill(self, kernel_name: str, env: dict[str, str], size: int, timeout: float = 120) -> bool:
        """Start kernels until ``size`` are ready, and wait for them (tests and benchmarks)."""
        key = pool_key(kernel_name, env)
        with self._lock:
            self._idle.setdefault(key, [])
            missing = size - len(self._idle[key]) - self._starting.get(key, 0)
            if missing > 0:
                self._starting[key] = self._starting.get(key, 0) + missing
        for _ in range(max(0, missing)):
            self._submit(("start", (key, kernel_name, dict(env), size)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle(kernel_name, env) >= size:
                return True
            time.sleep(0.05)
        return False

    def _evict(self, keep: Key) -> list[WarmKernel]:
        """Make room for ``keep``: the least recently used keys' idle kernels go (locked)."""
        evicted: list[WarmKernel] = []
        while len(self._idle) > MAX_KEYS:
            old = next(k for k in self._idle if k != keep)
            evicted += self._idle.pop(old)
        return evicted

    # -- the pool's thread ----------------------------------------------------------------------
    def _submit(self, job: tuple) -> None:
        """Run a start or a stop on the pool's event loop (they run concurrently there)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="omega-kernel-pool", daemon=True
                )
                self._thread.start()
            loop = self._loop
        asyncio.run_coroutine_threadsafe(self._job(*job), loop)

    async def _job(self, what: str, item: Any) -> None:
        try:
            if what == "start":
                await self._start(*item)
            else:
                await self._stop(item)
        except Exception as exc:  # a kernel that cannot start: runs start theirs cold
            log.warning("kernel pool: %s failed: %s", what, exc)

    async def _start(self, key: Key, kernel_name: str, env: dict[str, str], size: int) -> None:
        try:
            with self._lock:
                wanted = key in self._idle and len(self._idle[key]) < size
            if not wanted:  # evicted meanwhile, or filled
                return
            cwd = tempfile.mkdtemp(prefix="omega-kernel-")
            manager = kernel_manager_class(env, cwd)(kernel_name=kernel_name)
            try:
                extra = IPYKERNEL_ARGS if manager.ipykernel else []
                await manager.start_kernel(extra_arguments=list(extra))
                client = await _ready(manager)
            except BaseException:
                if manager.has_kernel:
                    await manager.shutdown_kernel(now=True)
                shutil.rmtree(cwd, ignore_errors=True)
                raise
            kernel = WarmKernel(key, manager, cwd, client)
            with self._lock:
                self.started += 1
                if key in self._idle:
                    self._idle[key].append(kernel)
                    kernel = None
            if kernel is not None:  # evicted while it started
                await self._stop(kernel)
        finally:
            with self._lock:
                self._starting[key] = max(0, self._starting.get(key, 0) - 1)
                self._lock.notify_all()

    async def _stop(self, kernel: WarmKernel) -> None:
        manager = kernel.manager
        _stop_client(kernel)
        try:
            if kernel.alive():
                manager.shutdown_wait_time = SHUTDOWN_WAIT
                await manager.shutdown_kernel(now=False)
            else:
                await manager.cleanup_resources()
        except Exception:
            try:
                await manager.shutdown_kernel(now=True)
            except Exception:
                pass
        finally:
            shutil.rmtree(kernel.cwd, ignore_errors=True)


async def _ready(manager: Any) -> Any:
    """A client connected to the kernel once it answers (its imports done): a kernel counts
    as ready only then. Asking for ``kernel_info`` runs no code in the kernel."""
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
    except BaseException:
        client.stop_channels()
        raise
    return client


def _stop_client(kernel: WarmKernel) -> None:
    client, kernel.client = kernel.client, None
    if client is not None:
        try:
            client.stop_channels()
        except Exception:
            pass


_pool: KernelPool | None = None
_pool_lock = threading.Lock()


def pool() -> KernelPool:
    """This process's kernel pool (idle kernels are shut down when the process exits)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = KernelPool()
            atexit.register(_kill_idle)
        return _pool


def _kill_idle() -> None:
    """At exit, no time for graceful shutdowns: kill idle kernels and remove their folders."""
    current = _pool
    if current is None:
        return
    with current._lock:
        kernels = [k for v in current._idle.values() for k in v]
        current._idle.clear()
    for kernel in kernels:
        process = getattr(getattr(kernel.manager, "provisioner", None), "process", None)
        try:
            if process is not None:
                process.kill()
        except Exception:
            pass
        shutil.rmtree(kernel.cwd, ignore_errors=True)
