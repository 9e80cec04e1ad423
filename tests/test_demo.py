"""The README's demo command runs end to end (without opening JupyterLab)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMEGA_")}
    env["OMEGA_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--no-lab"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "get('sales') equals the original exactly" in out
    assert "rows matched city == 'Zurich' and amount > 300" in out
    assert "accuracy" in out and ": succeeded" in out
    assert "the notebook printed: Zurich:" in out
