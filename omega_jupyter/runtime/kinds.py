"""Kinds of run: what a model action, a notebook or a script adds to the one run lifecycle.

A kind is one small module outside ``runtime/`` that makes a :class:`RunKind`: its ``execute``
body (what runs on the worker) and how it describes itself (its events' fields, the noun of its
errors, the object ``om.runtime.<kind>(name)`` returns). Everything else — the run row, Dask
submission, begin, heartbeat, events, end, cleanup — is the lifecycle's (``lifecycle.py``,
``service.Runtime.submit``). The runtime never imports a kind: the client hands its kinds to
the runtime it makes (``client.run_kinds``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omega_jupyter.exceptions import ConfigurationError
from omega_jupyter.runtime.handle import decode_result

UNPUBLISHED = object()  # an Outcome whose result the 'finished' message leaves out


@dataclass
class Outcome:
    """How an ``execute`` body ended: the run's final ``state``, the row's ``stored`` result,
    the ``published`` result of its ``finished`` message (left out unless given), and the
    ``error`` and ``traceback`` of a failure the body recorded itself. A body that raises
    fails its run with the exception instead."""

    state: str = "succeeded"
    stored: Any = None
    published: Any = UNPUBLISHED
    error: str | None = None
    traceback: str | None = None


@dataclass
class Run:
    """What an ``execute`` body gets: the worker's client for the run's bucket, the task's
    ``spec`` (what the submitter sent), the run row as this task began it, and the store."""

    om: Any
    spec: dict[str, Any]
    record: Any  # RunRecord
    runs: Any  # RunStore

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.target

    @property
    def version(self) -> int | None:
        return self.record.target_version

    @property
    def parameters(self) -> dict:
        return self.spec.get("parameters") or {}

    def progress(self, value: Any) -> None:
        """Record the run's progress (shown while it runs)."""
        self.runs.set_progress(self.id, value)


def _no_fields(record: Any) -> dict[str, Any]:
    return {}


def _stored_result(om: Any, record: Any, output: str | None) -> Any:
    return decode_result(om, record.result)


@dataclass(frozen=True)
class RunKind:
    """One kind of run.

    ``name`` is ``om_runs.kind``; ``execute(run) -> Outcome`` the worker-side body, run once
    per run under the lifecycle's heartbeat; ``front(runtime, target)`` what
    ``om.runtime.<name>(target)`` returns; ``describe(record)`` extra fields of the run's
    events; ``noun`` names the run in lifecycle errors ("the worker running this notebook
    died"); ``announces_start``: publish ``started`` (a latency-sensitive kind publishes only
    ``finished``); ``result_of(om, record, output)`` what a run group's ``results()`` gives
    for one succeeded member (``output``: the part of it asked for; default the stored result).
    """

    name: str
    execute: Callable[[Run], Outcome]
    front: Callable[[Any, str], Any]
    describe: Callable[[Any], dict[str, Any]] = _no_fields
    noun: str = "run"
    announces_start: bool = True
    result_of: Callable[[Any, Any, str | None], Any] = _stored_result


@dataclass
class RunKinds:
    """The kinds a runtime knows, by name."""

    by_name: dict[str, RunKind] = field(default_factory=dict)

    @classmethod
    def of(cls, kinds: list[RunKind] | tuple[RunKind, ...]) -> RunKinds:
        return cls({kind.name: kind for kind in kinds})

    def get(self, name: str) -> RunKind:
        try:
            return self.by_name[name]
        except KeyError:
            known = ", ".join(sorted(self.by_name)) or "none"
            raise ConfigurationError(
                f"unknown kind of run {name!r} (this client knows: {known})"
            ) from None

    def describe(self, record: Any) -> dict[str, Any]:
        """The extra event fields of a run row (none for a kind this client does not know)."""
        kind = self.by_name.get(record.kind)
        return kind.describe(record) if kind else {}
