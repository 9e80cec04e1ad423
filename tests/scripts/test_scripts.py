"""Script packages: built into wheels, installed once per version on a worker, run(om, **kw)."""

from __future__ import annotations

import tempfile
import textwrap
import uuid
import zipfile
from pathlib import Path

import pytest

from omega_jupyter.exceptions import (
    ObjectNotFoundError,
    RunFailedError,
    ScriptPackageError,
)


def make_package(root: Path, body: str, name: str = "myscript", version: str = "0.1") -> Path:
    folder = root / name
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / "setup.py").write_text(
        f"from setuptools import setup\nsetup(name={name!r}, version={version!r}, "
        f"packages=[{name!r}])\n"
    )
    (folder / name / "__init__.py").write_text(textwrap.dedent(body))
    return folder


FAILS = "def run(om, **kw):\n    print('about to fail')\n    raise RuntimeError('nope')\n"
RUN = """
def run(om, **kwargs):
    print("hello from", om.bucket)
    om.datasets.put({"seen": kwargs}, "script_output")
    return {"bucket": om.bucket, "kwargs": kwargs, "version": VERSION}
"""


def make_wheel(folder: Path, body: str, name: str = "myscript", version: str = "0.1") -> Path:
    """A minimal wheel written directly (a real build takes seconds; one test does that)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{name}/__init__.py", textwrap.dedent(body))
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{info}/RECORD", "")
    return wheel


def put_script(om, body: str, name: str = "myscript", tmp: Path | None = None):
    """Store ``body`` as the package of script ``name`` (module ``myscript``)."""
    from omega_jupyter.scripts.build import top_level_modules

    tmp = tmp or Path(tempfile.mkdtemp(prefix="omega-wheel-"))
    wheel = make_wheel(tmp / uuid.uuid4().hex, body)
    meta = {"filename": wheel.name, "modules": top_level_modules(wheel), "source": "test"}
    return om.scripts._store(wheel, name, meta, None)


def test_put_builds_a_wheel_from_setup_py(om, tmp_path):
    folder = make_package(tmp_path, "VERSION = 0\n" + RUN)
    meta = om.scripts.put(folder / "setup.py", "myscript")
    assert meta.kind == "python.package" and meta.kind_meta["modules"] == ["myscript"]
    assert om.scripts.get("myscript")[:2] == b"PK"  # a wheel is a zip
    assert om.scripts.list() == ["myscript"]
    assert not (folder / "build").exists()  # the build left the user's folder alone
    with pytest.raises(ScriptPackageError):
        om.scripts.put(tmp_path / "nowhere", "other")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "setup.py").write_text("raise SystemExit('cannot build this')\n")
    with pytest.raises(ScriptPackageError, match="failed"):
        om.scripts.put(broken, "other")
    assert om.scripts.list() == ["myscript"]


def test_run_script_versions_and_output(om):
    put_script(om, "VERSION = 1\n" + RUN)
    handle = om.runtime.script("myscript").run(day="2024-01-01")
    assert handle.result(timeout=120) == {
        "bucket": om.bucket,
        "kwargs": {"day": "2024-01-01"},
        "version": 1,
    }
    assert om.datasets.get("script_output") == {"seen": {"day": "2024-01-01"}}
    record = om.runtime.runs_store.get(handle.id)
    assert "hello from" in record.result["output"]
    put_script(om, "VERSION = 2\n" + RUN)  # a new version is installed and imported afresh
    assert om.runtime.script("myscript").run().result(timeout=120)["version"] == 2
    runs = om.scripts.runs("myscript")
    assert runs.state.tolist() == ["succeeded", "succeeded"]


def test_script_errors(om):
    put_script(om, "def main():\n    return 1\n", "norun")
    with pytest.raises(RunFailedError, match="no run"):
        om.runtime.script("norun").run().result(timeout=120)
    put_script(om, FAILS, "fails")
    with pytest.raises(RunFailedError, match="RuntimeError: nope"):
        om.runtime.script("fails").run().result(timeout=120)
    with pytest.raises(ObjectNotFoundError):
        om.runtime.script("missing").run()
