"""``om runtime job`` in its own process, with the local Dask cluster it starts: the run's
lines on stdout and nothing on stderr (no Dask warning about lost tasks at exit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_notebook


def test_runtime_job_exits_quietly(om, database_url: str, bucket: str, tmp_path: Path) -> None:
    om.jobs.put(new_notebook(cells=[new_code_cell("x = 6 * 7"), new_code_cell("x")]), "quiet")
    script = Path(sys.executable).parent / "om"
    env = dict(os.environ, OMEGA_HOME=str(tmp_path / "home"))
    env.pop("OMEGA_DASK_ADDRESS", None)
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2]), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [str(script), "--url", database_url, "--bucket", bucket, "runtime", "job", "quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout, done.stdout
    assert done.stderr == "", done.stderr
