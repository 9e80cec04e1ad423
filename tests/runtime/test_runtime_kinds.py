"""Kinds of run: the client hands its kinds to the runtime; the one worker-side task
(``lifecycle.run_task``) runs any of them and fails a run of a kind it does not know."""

from __future__ import annotations

import pytest

from omega_jupyter.client import run_kinds
from omega_jupyter.exceptions import ConfigurationError
from omega_jupyter.runtime.lifecycle import run_task
from omega_jupyter.runtime.worker import settings_payload


def test_the_client_registers_its_kinds(om) -> None:  # type: ignore[no-untyped-def]
    assert [kind.name for kind in run_kinds()] == ["model", "job", "script", "monitor", "app"]
    assert sorted(om.runtime.kinds.by_name) == ["app", "job", "model", "monitor", "script"]
    assert om.runtime.require("GPU").kinds is om.runtime.kinds
    assert type(om.runtime.job("report")).__name__ == "JobRunner"
    with pytest.raises(ConfigurationError, match=r"unknown kind of run 'shiny'.*app, job"):
        om.runtime.kind("shiny")


def test_a_run_of_an_unknown_kind_fails(om) -> None:  # type: ignore[no-untyped-def]
    run_id = om.runtime.runs_store.create("shiny", "dash", "run")
    spec = {"kind": "shiny", "settings": settings_payload(om.settings), "run_id": run_id}
    assert run_task(spec) == {"state": "failed"}
    record = om.runtime.runs_store.get(run_id)
    assert (record.state, record.attempt) == ("failed", 0)  # it never began
    assert record.error.startswith("ConfigurationError: unknown kind of run 'shiny'")
