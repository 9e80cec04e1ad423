"""The import graph of omega_jupyter, read from its source (nothing is imported), and the rules
it must keep: no import cycle among our modules, the runtime imports no kind of run (jobs,
scripts, models) nor the client, services import no surface library (tornado, IPython, typer),
and no module reaches a subpackage through the package attribute that the default client owns
(``from omega_jupyter import datasets`` and ``import omega_jupyter.jobs.x as y`` give the
default client's store, not the module: see :data:`CLIENT_NAMES`).

Run ``python -m omega_jupyter.devtools.imports`` (``--graph`` also prints every edge); it
exits non-zero and prints each cycle or broken rule when there is one. tests/test_architecture
checks the same.

An edge is an import that runs when the module is imported: module-level statements (also
inside ``try``/``if`` and class bodies), not ``if TYPE_CHECKING:`` blocks and not function
bodies. Importing ``a.b.c`` also runs the ``__init__`` of package ``a.b``, so that is an edge
too — except from a module inside ``a.b``, whose own packages are always imported before it
(so is the root package).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT_PACKAGE = "omega_jupyter"
SURFACES = ("cli", "magics", "widgets", "server")  # everything else is a service
SURFACE_LIBRARIES = ("tornado", "IPython", "typer")
RUNTIME_MUST_NOT_IMPORT = ("jobs", "scripts", "models", "apps", "client")
# ``om.datasets`` … is the default client's (omega_jupyter/__init__.py): the package attribute
# of these names is the client's object, so ``from omega_jupyter import datasets`` and
# ``import omega_jupyter.datasets.x as y`` get that object, never the module.
CLIENT_NAMES = ("datasets", "models", "jobs", "scripts", "streams", "runtime", "settings")


@dataclass
class ModuleImports:
    """What one module imports: ``ours`` at import time (the graph's edges), and the top-level
    names of every library it imports anywhere (``libraries``, function bodies included)."""

    ours: set[str] = field(default_factory=set)
    deferred: dict[str, int] = field(default_factory=dict)  # ours, in function bodies -> line
    libraries: dict[str, int] = field(default_factory=dict)  # name -> first line
    through_client: dict[str, int] = field(default_factory=dict)  # see CLIENT_NAMES -> line


def package_root() -> Path:
    return Path(__file__).resolve().parent.parent


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under the package ``root``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run when the module is imported (not function bodies, not TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _import_time_statements(node.orelse)
            continue
        yield node
        for child in ("body", "orelse", "finalbody", "handlers"):
            nested = getattr(node, child, None)
            if isinstance(nested, list) and not isinstance(node, ast.ExceptHandler):
                yield from _import_time_statements(
                    [n for n in nested if isinstance(n, ast.stmt | ast.ExceptHandler)]  # type: ignore[misc]
                )
        if isinstance(node, ast.ExceptHandler):
            yield from _import_time_statements(node.body)


def _imported(node: ast.stmt, module: str, is_package: bool) -> list[str]:
    """Dotted names an import statement imports (a ``from x import y`` gives ``x.y`` too:
    ``y`` may be a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        if not is_package:
            anchor = anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _through_client(node: ast.stmt, module: str, is_package: bool) -> list[str]:
    """Modules this statement would take from the package attribute that the default client
    owns (:data:`CLIENT_NAMES`), so that it gets the client's object instead."""
    if isinstance(node, ast.Import):  # only ``as`` binds what the package attribute holds
        owned = tuple(f"{ROOT_PACKAGE}.{name}." for name in CLIENT_NAMES)
        return [a.name for a in node.names if a.asname and f"{a.name}.".startswith(owned)]
    if isinstance(node, ast.ImportFrom) and _imported(node, module, is_package)[0] == ROOT_PACKAGE:
        return [f"{ROOT_PACKAGE}.{a.name}" for a in node.names if a.name in CLIENT_NAMES]
    return []


def _resolve(name: str, known: dict[str, Path]) -> list[str]:
    """Our modules that importing ``name`` runs: the longest known prefix and its packages."""
    parts = name.split(".")
    while parts and ".".join(parts) not in known:
        parts.pop()
    found = []
    while len(parts) > 1:  # the root package is always imported first: not an edge
        found.append(".".join(parts))
        parts.pop()
    if parts == [ROOT_PACKAGE] and name == ROOT_PACKAGE:
        found.append(ROOT_PACKAGE)  # an explicit ``import omega_jupyter``
    return found


def read_imports(root: Path | None = None) -> dict[str, ModuleImports]:
    """Module name -> :class:`ModuleImports`, for the package at ``root``."""
    root = root or package_root()
    known = module_names(root)
    graph: dict[str, ModuleImports] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        entry = graph[module] = ModuleImports()
        at_import = {id(node) for node in _import_time_statements(tree.body)}
        type_checking = {
            id(sub)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and _is_type_checking(node)
            for stmt in node.body
            for sub in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in type_checking:
                continue
            for name in _through_client(node, module, is_package):
                entry.through_client.setdefault(name, node.lineno)
            names = _imported(node, module, is_package)
            ours = [n for n in names if n == ROOT_PACKAGE or n.startswith(ROOT_PACKAGE + ".")]
            if not ours:
                if not (isinstance(node, ast.ImportFrom) and node.level):
                    top = names[0].split(".")[0]
                    entry.libraries.setdefault(top, node.lineno)
                continue
            targets = {
                m
                for name in ours
                for m in _resolve(name, known)
                if m != module and not module.startswith(m + ".")  # own packages come first
            }
            if id(node) in at_import:
                entry.ours.update(targets)
            else:
                for target in targets:
                    entry.deferred.setdefault(target, node.lineno)
    return graph


def edges(graph: dict[str, ModuleImports], deferred: bool = False) -> dict[str, set[str]]:
    """The import-time edges; with ``deferred``, those of function bodies as well (the cycles
    a function-level import would hide)."""
    return {m: e.ours | (set(e.deferred) if deferred else set()) for m, e in graph.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, …, a]``) through each group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:  # Tarjan's strongly connected components, iteratively
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the first module of ``group`` (breadth-first)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                return paths[node] + [start]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    return sorted(group)


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def broken_rules(graph: dict[str, ModuleImports]) -> list[str]:
    """Each import that breaks a layering rule, as one line."""
    problems = []
    for module, entry in sorted(graph.items()):
        area = _area(module)
        if area == "runtime":
            for target in sorted(entry.ours):
                if _area(target) in RUNTIME_MUST_NOT_IMPORT:
                    problems.append(f"{module} imports {target}: the runtime imports no kind")
        if area not in SURFACES:
            for library, line in sorted(entry.libraries.items()):
                if library in SURFACE_LIBRARIES:
                    problems.append(
                        f"{module} (line {line}) imports {library}: services import no surface "
                        "library"
                    )
        for name, line in sorted(entry.through_client.items()):
            problems.append(
                f"{module} (line {line}) takes {name} from the package attribute, which is the "
                "default client's: import from the module itself"
            )
    return problems


def report(
    root: Path | None = None, show_graph: bool = False, show_deferred: bool = False
) -> tuple[str, bool]:
    """(text, ok) of the checks for the package at ``root``."""
    graph = read_imports(root)
    lines = []
    if show_graph:
        for module, entry in sorted(graph.items()):
            lines.extend(f"{module} -> {target}" for target in sorted(entry.ours))
    cycles = find_cycles(edges(graph))
    problems = broken_rules(graph)
    count = sum(len(e.ours) for e in graph.values())
    deferred = sum(len(e.deferred) for e in graph.values())
    files = sum(bool(e.deferred) for e in graph.values())
    lines.append(f"{len(graph)} modules, {count} import-time imports among them")
    lines.append(f"{deferred} imports of our modules in function bodies, in {files} modules")
    if show_deferred:
        for module, entry in sorted(graph.items()):
            lines.extend(
                f"  {module}:{line} imports {target}" for target, line in entry.deferred.items()
            )
    lines.extend("import cycle: " + " -> ".join(cycle) for cycle in cycles)
    hidden = [c for c in find_cycles(edges(graph, deferred=True)) if c not in cycles]
    lines.extend(
        "(not an error) cycle through function-level imports: " + " -> ".join(c) for c in hidden
    )
    lines.extend(problems)
    ok = not cycles and not problems
    lines.append("ok" if ok else f"{len(cycles)} cycle(s), {len(problems)} broken rule(s)")
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m omega_jupyter.devtools.imports")
    parser.add_argument("--root", type=Path, help="package folder (default: this package)")
    parser.add_argument("--graph", action="store_true", help="print every edge as well")
    parser.add_argument(
        "--deferred", action="store_true", help="list the function-level imports of our modules"
    )
    args = parser.parse_args(argv)
    text, ok = report(args.root, args.graph, args.deferred)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
