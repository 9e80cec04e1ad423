"""Building a script package (a folder with ``setup.py`` or ``pyproject.toml``) into a wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from omega_jupyter.exceptions import ScriptPackageError

BUILD_TIMEOUT = 600
_IGNORE = shutil.ignore_patterns(
    ".git", "build", "dist", "__pycache__", "*.egg-info", ".venv", "*.pyc", ".ipynb_checkpoints"
)


def package_dir(path: str | Path) -> Path:
    """The package folder for a folder, its ``setup.py`` or its ``pyproject.toml``."""
    path = Path(path).expanduser()
    if path.is_file() and path.name in ("setup.py", "pyproject.toml", "setup.cfg"):
        path = path.parent
    if not path.is_dir():
        raise ScriptPackageError(
            f"{path} is not a package folder; pass a folder with setup.py or pyproject.toml, "
            "or the path of that file"
        )
    if not any((path / f).is_file() for f in ("setup.py", "pyproject.toml")):
        raise ScriptPackageError(f"{path} has neither setup.py nor pyproject.toml")
    return path


def build_wheel(path: str | Path, outdir: Path) -> Path:
    """Build a wheel of the package at ``path`` into ``outdir``; the source tree is copied
    first so the build leaves nothing behind in the user's folder."""
    source = package_dir(path)
    with tempfile.TemporaryDirectory(prefix="omega-build-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copytree(source, copy, ignore=_IGNORE)
        cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(copy)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise ScriptPackageError(f"building {source} took over {BUILD_TIMEOUT} s") from exc
    wheels = sorted(outdir.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        lines = [ln for ln in lines if not ln.startswith("WARNING: Location")]
        raise ScriptPackageError(f"building {source} failed: " + " | ".join(lines[-5:]))
    return wheels[-1]


def top_level_modules(wheel: Path) -> list[str]:
    """Importable top-level names in a wheel (packages and modules at its root)."""
    names: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        for entry in zf.namelist():
            first = entry.split("/", 1)[0]
            if first.endswith((".dist-info", ".data")):
                continue
            if "/" in entry:
                names.add(first)
            elif entry.endswith(".py"):
                names.add(entry[:-3])
    return sorted(n for n in names if n.isidentifier())
