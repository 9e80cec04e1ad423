"""The exact command forms: om jobs put / om runtime job / om scripts put / om runtime script."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from omega_jupyter.cli import app
from tests.jobs.test_jobs import make_notebook
from tests.scripts.test_scripts import RUN, make_package


@pytest.fixture
def om_cli(database_url: str, bucket: str):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--url", database_url, "--bucket", bucket, *args])

    return run


def ok(result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def test_jobs_put_run_schedule_runs(om_cli, om, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nbformat.write(make_notebook("print('x is', x)"), "notebook.ipynb")
    nbformat.write(make_notebook("raise KeyError('missing thing')"), "bad.ipynb")
    assert "stored mynotebook@1" in ok(om_cli("jobs", "put", "notebook.ipynb", "mynotebook"))
    again = ok(om_cli("jobs", "put", "notebook.ipynb", "mynotebook"))  # the same notebook
    assert "unchanged: mynotebook@1 is the same notebook (no new version)" in again
    assert (
        json.loads(ok(om_cli("--json", "jobs", "put", "notebook.ipynb", "mynotebook")))["created"]
        is False
    )
    assert len(om.jobs.versions("mynotebook")) == 1
    out = ok(om_cli("runtime", "job", "mynotebook", "-p", "x=7"))
    run_id = out.split()[1]
    assert "succeeded" in out
    assert om.jobs.result(run_id).cells[-1].outputs[0]["text"] == "x is 7\n"
    ok(om_cli("jobs", "put", "bad.ipynb", "bad"))
    failed = om_cli("runtime", "job", "bad")
    assert failed.exit_code == 1 and "missing thing" in failed.stderr
    assert "error:" in om_cli("runtime", "job", "nosuch").stderr
    out = ok(om_cli("runtime", "job", "mynotebook", "-p", "x=1", "--result-stream", "ev"))
    events = [m.data for m in om.streams.get("ev").read()]
    assert [(e["event"], e["run_id"]) for e in events] == [
        ("started", out.split()[1]),
        ("finished", out.split()[1]),
    ]
    queued = json.loads(ok(om_cli("--json", "runtime", "job", "mynotebook", "--no-wait")))
    om.runtime.run(queued["run"]).wait(120)
    ok(om_cli("jobs", "schedule", "mynotebook", "weekdays at 08:30", "--missed", "skip"))
    shown = ok(om_cli("jobs", "schedule", "mynotebook", "--show"))
    assert "Monday through Friday" in shown and "next:" in shown
    bad = om_cli("jobs", "schedule", "mynotebook", "whenever")
    assert bad.exit_code == 1 and "every 5 minutes" in bad.stderr
    ok(om_cli("jobs", "schedule", "mynotebook", "--delete"))
    assert om.jobs.schedules().empty
    runs = json.loads(ok(om_cli("--json", "jobs", "runs", "mynotebook")))
    assert [r["state"] for r in runs] == ["succeeded"] * 3
    assert "mynotebook" in ok(om_cli("jobs", "ls"))
    results = json.loads(ok(om_cli("--json", "jobs", "results", "mynotebook")))
    assert sorted(r["run_id"] for r in results) == sorted(r["id"] for r in runs)
    assert not any(r["failed"] for r in results) and all(r["job"] == "mynotebook" for r in results)
    assert run_id in ok(om_cli("jobs", "results", "mynotebook"))


def test_scripts_put_and_run(om_cli, om, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_package(tmp_path, "VERSION = 3\n" + RUN)
    assert "stored myscript@1" in ok(om_cli("scripts", "put", "./myscript/setup.py", "myscript"))
    assert "myscript" in ok(om_cli("script", "ls"))
    out = ok(om_cli("runtime", "script", "myscript", "run", "day=2024-01-01", "n=2"))
    value = json.loads(out.strip().splitlines()[-1])
    assert value["kwargs"] == {"day": "2024-01-01", "n": 2} and value["version"] == 3
    ok(om_cli("runtime", "script", "myscript", "run", "n=1", "--result-stream", "ev"))
    events = [m.data for m in om.streams.get("ev").read()]
    assert [e["event"] for e in events] == ["started", "finished"]
    assert events[1]["state"] == "succeeded", events[1]
    assert events[1]["result"]["value"]["kwargs"] == {"n": 1}
    bad = om_cli("runtime", "script", "myscript", "run", "--result-stream", "a@b")
    assert bad.exit_code != 0 and "a@b" in bad.stderr


def test_unschedule_is_the_verb_and_delete_its_hidden_alias(om_cli, om, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nbformat.write(make_notebook("x = 1"), "notebook.ipynb")
    ok(om_cli("jobs", "put", "notebook.ipynb", "mynotebook"))
    make_package(tmp_path, RUN)
    ok(om_cli("scripts", "put", "./myscript/setup.py", "myscript"))
    for store, name in (("jobs", "mynotebook"), ("scripts", "myscript")):
        ok(om_cli(store, "schedule", name, "hourly"))
        assert "unschedule" in ok(om_cli(store, "--help"))
        assert "--delete" not in ok(om_cli(store, "schedule", "--help"))
        gone = json.loads(ok(om_cli("--json", store, "unschedule", name)))
        assert gone == {"name": name, "unscheduled": True}
        again = om_cli(store, "unschedule", name)
        assert again.exit_code == 1 and "has no schedule" in again.stderr
        ok(om_cli(store, "schedule", name, "hourly"))
        assert ok(om_cli(store, "schedule", name, "--delete")).strip() == f"unscheduled {name}"
    assert om.jobs.schedules().empty and om.scripts.schedules().empty
    assert om.jobs.exists("mynotebook") and om.scripts.exists("myscript")


def test_schedule_pause_and_resume(om_cli, om, tmp_path, monkeypatch):
    from tests.scripts.test_scripts import put_script

    monkeypatch.chdir(tmp_path)
    nbformat.write(make_notebook("print(x)"), "notebook.ipynb")
    ok(om_cli("jobs", "put", "notebook.ipynb", "mynotebook"))
    missing = om_cli("jobs", "schedule", "mynotebook", "--pause")
    assert missing.exit_code == 1 and "has no schedule" in missing.stderr
    ok(om_cli("jobs", "schedule", "mynotebook", "hourly"))
    out = ok(om_cli("jobs", "schedule", "mynotebook", "--pause"))
    assert "paused: nothing runs until om jobs schedule mynotebook --resume" in out
    assert "next:" not in out
    assert om.jobs.schedules().paused.tolist() == [True]
    ok(om_cli("jobs", "schedule", "mynotebook", "daily at 06:00"))  # a change stays paused
    shown = json.loads(ok(om_cli("--json", "jobs", "schedule", "mynotebook", "--show")))
    assert (shown["when"], shown["paused"]) == ("daily at 06:00", True)
    assert json.loads(ok(om_cli("--json", "jobs", "info", "mynotebook")))["schedule_paused"]
    assert "next:" in ok(om_cli("jobs", "schedule", "mynotebook", "--resume"))
    assert om.jobs.schedules().paused.tolist() == [False]
    ok(om_cli("jobs", "schedule", "mynotebook", "hourly", "--pause"))  # WHEN with a state
    assert om.jobs.schedules().paused.tolist() == [True]
    for args in (["--delete", "--resume"], ["--show", "--resume"], ["hourly", "--show"]):
        bad = om_cli("jobs", "schedule", "mynotebook", *args)
        assert bad.exit_code == 2, (args, bad.stdout, bad.stderr)
    assert om.jobs.schedules()[["when", "paused"]].values.tolist() == [["hourly", True]]

    put_script(om, "def run(om, **kwargs):\n    return kwargs\n")
    ok(om_cli("scripts", "schedule", "myscript", "every 5 minutes", "--pause"))
    shown = json.loads(ok(om_cli("--json", "scripts", "schedule", "myscript", "--show")))
    assert shown["paused"] is True
    resumed = json.loads(ok(om_cli("--json", "scripts", "schedule", "myscript", "--resume")))
    assert resumed["paused"] is False and om.scripts.schedules().paused.tolist() == [False]


def test_runtime_commands_take_max_retries(om_cli, om, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nbformat.write(make_notebook("print(x)"), "notebook.ipynb")
    ok(om_cli("jobs", "put", "notebook.ipynb", "mynotebook"))
    make_package(tmp_path, "VERSION = 1\n" + RUN)
    ok(om_cli("scripts", "put", "./myscript/setup.py", "myscript"))
    commands = {
        2: ["runtime", "job", "mynotebook", "--max-retries", "2"],
        1: ["runtime", "script", "myscript", "run", "n=1", "--max-retries", "1"],
        0: ["runtime", "job", "mynotebook"],  # the default for notebooks
    }
    for retries, args in commands.items():
        queued = json.loads(ok(om_cli("--json", *args, "--no-wait")))
        record = om.runtime.run(queued["run"]).wait(120).record
        assert (record.state, record.max_retries) == ("succeeded", retries)
        assert "max_retries" not in record.parameters
    bad = om_cli("runtime", "job", "mynotebook", "--max-retries", "-1")
    assert bad.exit_code == 2 and "max-retries" in bad.stderr


def test_runtime_job_map_runs_a_group_with_one_bar(om_cli, om, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nb = make_notebook("assert x != 'b', 'no b'", "{'x': x, 'y': y}")
    nb.cells[-1].metadata["tags"] = ["out"]
    nbformat.write(nb, "nb.ipynb")
    ok(om_cli("jobs", "put", "nb.ipynb", "fan"))
    out = om_cli("--json", "runtime", "job", "fan", "--map", "x=a,b,c", "-p", "y=2")
    assert out.exit_code == 1 and "1 of 3 members did not succeed" in out.stderr, out.stdout
    shown = json.loads(out.stdout)
    assert shown["counts"]["succeeded"] == 2 and shown["total"] == 3
    [failed] = shown["failed"]
    assert failed["parameters"] == {"y": 2, "x": "b"} and "no b" in failed["error"]
    group_id = om.runtime.groups().id.iloc[0]
    assert om.runtime.group(group_id).results("out").y.tolist() == [2, 2]
    # a file of JSON lines, and the group found again by id
    (tmp_path / "params.jsonl").write_text('{"x": "d", "y": 1}\n\n{"x": "e", "y": 5}\n')
    out = json.loads(
        ok(om_cli("--json", "runtime", "job", "fan", "--map", "params.jsonl", "--no-wait"))
    )
    assert out["members"] == 2
    shown = json.loads(ok(om_cli("--json", "runtime", "group", out["group"], "--wait")))
    assert shown["counts"]["succeeded"] == 2 and shown["done"]
    # bad input: one clear line, nothing recorded
    groups = len(om.runtime.groups())
    for args in (
        ["--map", "nofile.jsonl"],
        ["--map", "x="],
        ["--max-parallel", "2"],
        ["--map", "x=a", "--max-parallel", "0"],
    ):
        bad = om_cli("runtime", "job", "fan", *args)
        assert bad.exit_code != 0 and bad.stderr.strip(), args
    (tmp_path / "bad.jsonl").write_text('{"x": 1}\n[1]\n')
    bad = om_cli("runtime", "job", "fan", "--map", "bad.jsonl")
    assert bad.exit_code == 2 and "member 2 is not a JSON object" in bad.stderr
    assert len(om.runtime.groups()) == groups
    missing = om_cli("runtime", "group", "0" * 32)
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_schedule_a_map(om_cli, om, tmp_path, monkeypatch):
    """``om jobs schedule NAME WHEN --map store=a,b``: every slot starts a run group."""
    monkeypatch.chdir(tmp_path)
    nbformat.write(make_notebook("print(store, x)"), "notebook.ipynb")
    ok(om_cli("jobs", "put", "notebook.ipynb", "mynotebook"))
    out = ok(om_cli("jobs", "schedule", "mynotebook", "hourly", "--map", "store=a,b", "-p", "x=1"))
    assert "each slot: a run group of 2 members, 4 at once" in out
    info = om.jobs.schedule_info("mynotebook")
    assert info["map"] == [{"store": "a", "x": 1}, {"store": "b", "x": 1}]
    assert info["parameters"] == {}
    Path("members.jsonl").write_text('{"store": "c"}\n{"store": "d"}\n{"store": "e"}\n')
    shown = json.loads(
        ok(
            om_cli(
                "--json", "jobs", "schedule", "mynotebook", "hourly",
                "--map", "members.jsonl", "--max-parallel", "2",
            )
        )
    )  # fmt: skip
    assert [m["store"] for m in shown["map"]] == ["c", "d", "e"] and shown["max_parallel"] == 2
    for args in (
        ["--max-parallel", "2"],  # no --map
        ["--map", "store=a", "--show"],  # no WHEN
        ["hourly", "--map", "nosuchfile.jsonl"],
    ):
        bad = om_cli("jobs", "schedule", "mynotebook", *args)
        assert bad.exit_code == 2, (args, bad.stdout, bad.stderr)
    assert [m["store"] for m in om.jobs.schedule_info("mynotebook")["map"]] == ["c", "d", "e"]
