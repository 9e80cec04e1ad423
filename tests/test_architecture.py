"""The package's import graph keeps its layers (read from the source with ``ast``; nothing is
imported). The same check from a shell: ``python -m omega_jupyter.devtools.imports``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import omega_jupyter
from omega_jupyter.devtools.imports import (
    CLIENT_NAMES,
    broken_rules,
    edges,
    find_cycles,
    package_root,
    read_imports,
    report,
)

# The packages whose modules must not import each other in a circle, not even through an
# import inside a function (the run lifecycle's old cycle ran through all of them).
LIFECYCLE = ("client", "runtime", "jobs", "scripts", "models", "logs", "streams", "storage")


@pytest.fixture(scope="module")
def graph():  # type: ignore[no-untyped-def]
    return read_imports()


def _show(cycles: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_import_cycle(graph) -> None:  # type: ignore[no-untyped-def]
    cycles = find_cycles(edges(graph))
    assert not cycles, f"import cycles:\n{_show(cycles)}"


def test_no_cycle_hidden_in_functions_among_the_lifecycle_packages(graph) -> None:  # type: ignore[no-untyped-def]
    def ours(module: str) -> bool:
        area = module.split(".")[1] if "." in module else ""
        return area in LIFECYCLE

    cycles = [c for c in find_cycles(edges(graph, deferred=True)) if any(map(ours, c))]
    assert not cycles, f"cycles through function-level imports:\n{_show(cycles)}"


def test_runtime_imports_no_kind_of_run(graph) -> None:  # type: ignore[no-untyped-def]
    runtime = {m: e for m, e in graph.items() if m.startswith("omega_jupyter.runtime")}
    assert "omega_jupyter.runtime.lifecycle" in runtime and "omega_jupyter.runtime.kinds" in runtime
    for module, entry in runtime.items():
        reached = entry.ours | set(entry.deferred)
        wrong = [m for m in reached if m.split(".")[1] in ("jobs", "scripts", "models", "client")]
        assert not wrong, f"{module} imports {wrong}"


def test_services_import_no_surface_library(graph) -> None:  # type: ignore[no-untyped-def]
    problems = broken_rules(graph)
    assert not problems, "\n".join(problems)
    # the check sees what it should: the surfaces do import them
    assert "tornado" in graph["omega_jupyter.server.handlers"].libraries
    assert "typer" in graph["omega_jupyter.cli"].libraries


def test_the_checker_knows_the_names_the_default_client_owns() -> None:
    """``om.datasets`` … are the default client's; the subpackages of those names can be
    imported only by their full name (``from omega_jupyter.datasets import …``)."""
    subpackages = {p.stem for p in package_root().iterdir()}
    assert set(CLIENT_NAMES) == omega_jupyter._DELEGATED & subpackages


def test_the_checker_finds_a_cycle_and_a_broken_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "omega_jupyter"
    for folder in ("runtime", "jobs", "server"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    files = {
        "runtime/a.py": "from omega_jupyter.jobs import b\n",
        "jobs/b.py": "import tornado\nfrom omega_jupyter.runtime.a import x\n",
        "jobs/c.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import IPython\n"
            "def later():\n    from omega_jupyter.runtime import a\n"
        ),
        "server/d.py": "import tornado\n",
        "server/e.py": (
            "from omega_jupyter import datasets\nimport omega_jupyter.jobs.b as b\n"
            "import omega_jupyter.jobs.c\nfrom omega_jupyter.jobs import c\n"
        ),
    }
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    found = read_imports(root)
    assert find_cycles(edges(found)) == [
        ["omega_jupyter.jobs.b", "omega_jupyter.runtime.a", "omega_jupyter.jobs.b"]
    ]
    assert found["omega_jupyter.jobs.c"].deferred.keys() == {
        "omega_jupyter.runtime",
        "omega_jupyter.runtime.a",
    }
    assert "IPython" not in found["omega_jupyter.jobs.c"].libraries  # TYPE_CHECKING only
    assert broken_rules(found) == [
        "omega_jupyter.jobs.b (line 1) imports tornado: services import no surface library",
        "omega_jupyter.runtime.a imports omega_jupyter.jobs: the runtime imports no kind",
        "omega_jupyter.runtime.a imports omega_jupyter.jobs.b: the runtime imports no kind",
        "omega_jupyter.server.e (line 1) takes omega_jupyter.datasets from the package "
        "attribute, which is the default client's: import from the module itself",
        "omega_jupyter.server.e (line 2) takes omega_jupyter.jobs.b from the package "
        "attribute, which is the default client's: import from the module itself",
    ]
    text, ok = report(root)
    assert not ok and "import cycle: omega_jupyter.jobs.b -> omega_jupyter.runtime.a" in text


def test_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "omega_jupyter.devtools.imports"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("ok")
