"""Notebook and script runs publish their lifecycle to a stream (``result_stream=``): a real
Dask LocalCluster, a real kernel, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from omega_jupyter.cli import app
from omega_jupyter.client import Omega
from omega_jupyter.exceptions import InvalidNameError, RunFailedError
from omega_jupyter.streams.store import StreamStore
from tests.jobs.test_jobs import make_notebook
from tests.magics_shell import make_shell, usage_error
from tests.scripts.test_scripts import FAILS, RUN, put_script

WAIT = 120  # seconds; generous on a loaded machine, never reached when things work


@pytest.fixture
def omd(om: Omega, dask_cluster) -> Omega:  # type: ignore[no-untyped-def]
    return Omega(om.settings.replace(dask_address=dask_cluster.scheduler_address))


def test_job_run_publishes_started_then_finished(omd: Omega) -> None:
    events = omd.streams.create("events")
    follower = events.follow(group="reactor", timeout=WAIT)
    omd.jobs.put(make_notebook("print('done', x)"), "reports/daily")
    handle = omd.runtime.job("reports/daily").run(parameters={"x": 41}, result_stream="events")
    started, finished = next(follower).data, next(follower).data
    follower.close()
    assert started == {
        "event": "started",
        "run_id": handle.id,
        "kind": "job",
        "name": "reports/daily",
        "action": "run",
        "version": 1,
        "parameters": {"x": 41},
    }
    assert handle.wait(WAIT).status == "succeeded"
    assert (finished["event"], finished["run_id"]) == ("finished", handle.id)
    assert (finished["kind"], finished["name"], finished["version"]) == ("job", "reports/daily", 1)
    assert (finished["state"], finished["error"]) == ("succeeded", None)
    assert isinstance(finished["duration"], float) and finished["duration"] >= 0
    assert finished["result"]["type"] == "notebook"
    assert omd.jobs.result(handle.id).cells[-1].outputs[0]["text"] == "done 41\n"

    # a failing notebook publishes its error; its executed notebook is kept and named
    omd.jobs.put(make_notebook("raise ValueError('boom')"), "broken")
    bad = omd.runtime.job("broken").run(result_stream="events")
    with pytest.raises(RunFailedError, match="boom"):
        bad.result(timeout=WAIT)
    messages = [m.data for m in events.read(since=2)]
    assert [(m["event"], m["run_id"]) for m in messages] == [
        ("started", bad.id),
        ("finished", bad.id),
    ]
    failed = messages[1]
    assert failed["state"] == "failed" and "ValueError: boom" in failed["error"]
    assert failed["result"]["type"] == "notebook"
    assert omd.jobs.result(bad.id).cells[-1].source == "raise ValueError('boom')"


def test_script_run_publishes_started_then_finished(omd: Omega) -> None:
    put_script(omd, "VERSION = 1\n" + RUN)
    handle = omd.runtime.script("myscript").run(day="2024-01-01", result_stream="script-events")
    value = handle.result(timeout=WAIT)
    assert value["kwargs"] == {"day": "2024-01-01"}  # result_stream is not the script's
    messages = [m.data for m in omd.streams.get("script-events").read()]
    assert [(m["event"], m["run_id"], m["kind"]) for m in messages] == [
        ("started", handle.id, "script"),
        ("finished", handle.id, "script"),
    ]
    assert messages[0]["parameters"] == {"day": "2024-01-01"}
    assert messages[1]["state"] == "succeeded" and messages[1]["error"] is None
    assert messages[1]["result"] == {"type": "value", "value": value}

    put_script(omd, FAILS, "fails")
    bad = omd.runtime.script("fails").run(result_stream="script-events")
    with pytest.raises(RunFailedError):
        bad.result(timeout=WAIT)
    failed = [m.data for m in omd.streams.get("script-events").read(since=2)]
    assert [(m["event"], m["run_id"]) for m in failed] == [
        ("started", bad.id),
        ("finished", bad.id),
    ]
    assert failed[1]["state"] == "failed" and failed[1]["error"] == "RuntimeError: nope"


def test_publishing_failure_leaves_the_run_alone(
    omd: Omega, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(self, obj, name, many=False):  # type: ignore[no-untyped-def]
        raise OSError("stream store unreachable")

    put_script(omd, "VERSION = 1\n" + RUN)
    monkeypatch.setattr(StreamStore, "put", unreachable)
    handle = omd.runtime.script("myscript").run(result_stream="events")
    assert handle.result(timeout=WAIT)["version"] == 1
    warnings = omd.logger.dataframe(level="WARNING", run=handle.id)
    lines = warnings["message"].tolist()
    assert any("could not publish 'started'" in line for line in lines), lines
    assert any("could not publish 'finished'" in line for line in lines), lines
    assert all(handle.id in line and "stream store unreachable" in line for line in lines)


@pytest.mark.parametrize("bad", ["a@b", "", " padded", "x[1]", 5])
def test_bad_stream_name_is_refused_before_any_run(om: Omega, bad: object) -> None:
    om.jobs.put(make_notebook("y = 1"), "report")
    put_script(om, "VERSION = 1\n" + RUN)
    with pytest.raises(InvalidNameError):
        om.runtime.job("report").run(result_stream=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidNameError):
        om.runtime.script("myscript").run(result_stream=bad)
    assert om.runtime.runs().empty
    assert om.streams.list() == []


def test_magic_and_cli_options(om: Omega, database_url: str, dask_cluster, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OMEGA_DASK_ADDRESS", dask_cluster.scheduler_address)
    om.jobs.put(make_notebook("y = 1"), "report")
    shell = make_shell(database_url, om.bucket)
    assert "reserved for modifiers" in usage_error(shell, "%om run report --result-stream a@b")
    assert om.runtime.runs().empty

    X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    om.models.put(LogisticRegression().fit(X, [0, 0, 1, 1]), "tiny")
    om.datasets.put(X, "X")
    cli = CliRunner()
    base = ["--url", om.settings.resolved_database_url, "--bucket", om.bucket, "runtime"]
    done = cli.invoke(app, [*base, "model", "tiny", "predict", "X", "--result-stream", "preds"])
    assert done.exit_code == 0, (done.stdout, done.stderr)
    (message,) = om.streams.get("preds").read()
    assert (message.data["event"], message.data["kind"], message.data["name"]) == (
        "finished",
        "model",
        "tiny",
    )
    assert message.data["state"] == "succeeded" and message.data["result"]["data"] == [0, 0, 1, 1]
    refused = cli.invoke(app, [*base, "model", "tiny", "fit", "X", "--result-stream", "preds"])
    assert refused.exit_code != 0 and "--result-stream applies to predict" in refused.stderr
