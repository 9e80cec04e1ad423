"""Warm kernels: a run on a pre-started kernel is the same as a cold run, and shares nothing."""

from __future__ import annotations

import pytest

from omega_jupyter.client import Omega
from omega_jupyter.exceptions import RunFailedError
from omega_jupyter.jobs import kernel_pool
from omega_jupyter.jobs.notebook_run import cell_value
from omega_jupyter.runtime.worker import client_from_payload, run_env
from tests.jobs.test_jobs import make_notebook


def with_pool(om: Omega, size: int) -> Omega:
    return Omega(om.settings.replace(warm_kernels=size))


def task_env(client: Omega) -> dict[str, str]:
    """The environment a run's kernel gets on the worker (on PostgreSQL: with the bucket's
    credential, not the client's login)."""
    worker_om = client_from_payload(client.runtime.task_settings())
    return run_env(worker_om.settings, client.bucket)


def warm_run(client: Omega, name: str, **kw):
    """Run ``name`` on a warm kernel (filling the pool first); returns the finished handle."""
    pool = kernel_pool.pool()
    env = task_env(client)
    assert pool.fill("python3", env, client.settings.warm_kernels), "the pool started no kernel"
    taken = pool.taken
    handle = client.runtime.job(name).run(**kw)
    handle.wait(120)
    assert pool.taken == taken + 1, "the run did not take a warm kernel"
    return handle


def comparable(node) -> list:
    """A run's executed notebook without what differs between any two runs (timings, ids)."""
    cells = []
    for cell in node.cells:
        outputs = [
            {k: v for k, v in o.items() if k != "execution_count"} for o in cell.get("outputs", [])
        ]
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        tags = cell.get("metadata", {}).get("tags", [])
        cells.append((cell.cell_type, cell.source, tags, status, outputs))
    return cells


NOTEBOOK = (
    "import omega_jupyter as om\n_ = om.datasets.put({'x': x}, f'seen_{x}')",
    "print('x is', x)\nx * 2",
    "{'bucket': om.bucket, 'answer': x + 1}",
)


def test_warm_run_matches_cold_run(om):
    cold, warm = with_pool(om, 0), with_pool(om, 1)
    om.jobs.put(make_notebook(*NOTEBOOK), "same")
    started = kernel_pool.pool().started
    handle = cold.runtime.job("same").run(parameters={"x": 41})
    assert handle.wait(120).status == "succeeded", handle.record.error
    assert kernel_pool.pool().started == started  # pool off: nothing started ahead
    cold_nb = om.jobs.result(handle.id)
    handle = warm_run(warm, "same", parameters={"x": 41})
    assert handle.status == "succeeded", handle.record.error
    warm_nb = om.jobs.result(handle.id)
    assert comparable(warm_nb) == comparable(cold_nb)
    assert "x = 41" in warm_nb.cells[2].source  # the same injected parameters cell
    assert cell_value(warm_nb.cells[-1]) == {"bucket": om.bucket, "answer": 42}
    assert om.datasets.get("seen_41") == {"x": 41}  # written by both runs: two versions
    assert warm_nb.metadata.papermill.parameters == cold_nb.metadata.papermill.parameters


def test_warm_failing_cell_reported_as_cold(om):
    cold, warm = with_pool(om, 0), with_pool(om, 1)
    om.jobs.put(make_notebook("y = x", "raise ValueError(f'boom {y}')", "print('never')"), "bad")
    errors, notebooks = [], []
    for client, runner in ((cold, None), (warm, warm_run)):
        if runner is None:
            handle = client.runtime.job("bad").run(parameters={"x": 7})
            handle.wait(120)
        else:
            handle = runner(client, "bad", parameters={"x": 7})
        with pytest.raises(RunFailedError, match="ValueError: boom 7"):
            handle.result(timeout=10)
        record = handle.record
        errors.append((record.state, record.error))
        notebooks.append(comparable(om.jobs.result(handle.id)))
    assert errors[0] == errors[1]
    assert errors[0][1].startswith("cell ") and "failed: ValueError: boom 7" in errors[0][1]
    assert notebooks[0] == notebooks[1]


def test_no_state_carries_over_between_warm_runs(om, tmp_path):
    """Two runs in a row on warm kernels: different kernel processes, a fresh namespace, no
    file, environment variable or module state of the first run in the second."""
    warm = with_pool(om, 1)
    first = make_notebook(
        "import os, sys\nsecret = 'leaked'\nos.environ['OMEGA_LEAK'] = '1'\n"
        "open('left_behind.txt', 'w').write('x')\nsys.modules['json'].leak = 1",
        "os.getpid()",
    )
    second = make_notebook(
        "import os, sys, json\n"
        "state = {'secret': 'secret' in globals(), 'env': 'OMEGA_LEAK' in os.environ,\n"
        "         'file': os.path.exists('left_behind.txt'), 'module': hasattr(json, 'leak'),\n"
        "         'pid': os.getpid(), 'cwd_files': sorted(os.listdir('.'))}",
        "state",
    )
    om.jobs.put(first, "first")
    om.jobs.put(second, "second")
    one = warm_run(warm, "first")
    assert one.status == "succeeded", one.record.error
    two = warm_run(warm, "second")
    assert two.status == "succeeded", two.record.error
    pid = cell_value(om.jobs.result(one.id).cells[-1])
    state = cell_value(om.jobs.result(two.id).cells[-1])
    assert state["pid"] != pid
    assert (state["secret"], state["env"], state["file"], state["module"]) == (False,) * 4
    assert "left_behind.txt" not in state["cwd_files"]


def test_pool_is_keyed_by_bucket_and_credential(om):
    """A kernel started for one bucket (its environment: database URL, bucket) is never
    taken for another: the other bucket's run finds the pool empty and starts cold."""
    pool = kernel_pool.pool()
    mine = task_env(om)
    other = task_env(om[om.bucket + "x"])
    assert pool.fill("python3", mine, 1)
    assert pool.take("python3", other, 1) is None  # none for it yet (one starts now)
    taken = pool.take("python3", mine, 1)
    assert taken is not None and taken.key == kernel_pool.pool_key("python3", mine)
    pool.retire(taken)
    # a run of the other bucket on a warm kernel sees its own bucket
    client = with_pool(om, 1)[om.bucket + "x"]
    client.jobs.put(make_notebook("import omega_jupyter as om\nom.bucket"), "where")
    handle = warm_run(client, "where")
    assert cell_value(client.jobs.result(handle.id).cells[-1]) == om.bucket + "x"


def test_warm_run_timeout(om):
    warm = with_pool(om, 1)
    om.jobs.put(make_notebook("import time\ntime.sleep(30)"), "slow")
    handle = warm_run(warm, "slow", timeout=1.5)
    with pytest.raises(RunFailedError, match=r"exceeded its timeout of 1\.5 s"):
        handle.result(timeout=10)
