"""The README's demo command runs end to end (without opening JupyterLab)."""

import importlib.util
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
    assert "bin/activate   # puts `om` on PATH" in out
    # The demo lists what it stored, and stores nothing it does not talk about.
    assert "settings" not in out and "identity" not in out


def test_demo_says_how_to_put_om_on_path_and_opens_lab_beside_the_store(tmp_path, monkeypatch):
    """JupyterLab opens in a folder of example notebooks, not among the database's files."""
    spec = importlib.util.spec_from_file_location("omega_demo", ROOT / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    home = tmp_path / "home"
    monkeypatch.setenv("OMEGA_HOME", str(home))
    folder = demo.notebook_folder()
    assert folder.parent == home
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in (ROOT / "examples").glob("*.ipynb"))
    assert not any(n.startswith("omega.db") for n in names)
    (folder / names[0]).write_text("edited")
    demo.notebook_folder()  # a second start keeps the user's edits
    assert (folder / names[0]).read_text() == "edited"
