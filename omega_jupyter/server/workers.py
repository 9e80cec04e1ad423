"""Pre-forked worker processes of ``om serve``: one parent, ``n`` children on one listening socket.

The parent binds the socket, forks the children and then only supervises them: a child that
dies is started again (a crash loop stops the server with a clear message), and SIGTERM or
SIGINT to the parent stops every child before the parent exits. A child dies with its parent
even when the parent is killed outright (Linux ``PR_SET_PDEATHSIG``), so no worker is left
behind holding the port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable

from omega_jupyter.exceptions import OmegaError

RESTARTS_PER_MINUTE = 10  # more deaths than this within 60 s: the workers are crash-looping
STOP_GRACE_SECONDS = 10.0  # children still alive this long after SIGTERM get SIGKILL
_PR_SET_PDEATHSIG = 1
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class WorkersFailed(OmegaError):
    """The workers keep dying; the parent stopped them all."""


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def run_workers(
    n: int,
    child: Callable[[int], None],
    *,
    log: Callable[[str], None],
    restarts_per_minute: int = RESTARTS_PER_MINUTE,
) -> None:
    """Fork ``n`` processes running ``child(slot)`` and supervise them until SIGTERM/SIGINT.

    Returns once every child has exited after a stop signal; raises ``WorkersFailed`` (after
    stopping the others) when children die more than ``restarts_per_minute`` times a minute.
    """
    parent = os.getpid()
    children: dict[int, int] = {}  # pid -> slot
    deaths: list[float] = []
    stop: list[int] = []  # the signal that asked us to stop

    def on_signal(signum: int, _frame: object) -> None:
        if not stop:
            stop.append(signum)
        for pid in list(children):
            _kill(pid, signal.SIGTERM)

    def spawn(slot: int) -> None:
        # Signals wait until the child has its own handlers and the parent knows its pid.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's code
            code = 0
            try:
                for signum in STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
                _die_with_parent(parent)
                child(slot)
            except (KeyboardInterrupt, SystemExit) as exc:
                code = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 0
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = slot
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        for slot in range(n):
            spawn(slot)
        failure = None
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                if stop:
                    break
                time.sleep(0.2)  # signals interrupt the sleep: their handler runs at once
                continue
            slot = children.pop(pid, None)
            if slot is None or stop:
                continue
            now = time.monotonic()
            deaths[:] = [t for t in deaths if now - t < 60] + [now]
            if len(deaths) > restarts_per_minute:
                failure = (
                    f"worker {slot} (pid {pid}) {_describe(status)}; {len(deaths)} worker "
                    "deaths within a minute: stopping the server"
                )
                log(failure)
                break
            log(f"worker {slot} (pid {pid}) {_describe(status)}; starting it again")
            spawn(slot)
        _stop_all(children)
        if failure:
            raise WorkersFailed(failure)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _stop_all(children: dict[int, int]) -> None:
    """SIGTERM every child, wait for them (SIGKILL after the grace period), reap them all."""
    for pid in children:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while children:
        for pid in list(children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                children.pop(pid)
        if children and time.monotonic() > deadline:
            for pid in children:
                _kill(pid, signal.SIGKILL)
            deadline = float("inf")
        if children:
            time.sleep(0.05)
