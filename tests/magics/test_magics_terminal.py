"""``%om`` in terminal IPython (a real ``ipython`` process, no kernel, no widgets): the browser
falls back to a listing that says what the interactive one needs, and no progress line is
redrawn with carriage returns where the output is not a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from omega_jupyter.widgets.browser import NEEDS

LINES = [
    "%load_ext omega_jupyter",
    "import pandas as pd",
    "df = pd.DataFrame({'a': range(200_000)})",
    "%om put df mydata",
    "%om browse",
]


def test_browse_and_put_in_terminal_ipython(database_url, bucket, tmp_path: Path) -> None:
    env = dict(os.environ, OMEGA_HOME=str(tmp_path), OMEGA_DATABASE_URL=database_url)
    env["OMEGA_BUCKET"] = bucket
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2]), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--simple-prompt"],
        input="\n".join(LINES) + "\nexit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "dataset mydata@1" in out, out
    assert NEEDS in out and "mydata  pandas.dataframe  1" in out, out
    assert "\r" not in out, out
    assert "Traceback" not in out + done.stderr, out + done.stderr
