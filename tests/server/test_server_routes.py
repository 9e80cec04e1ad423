"""The route table: every route documented, every documented operation served, and every
handler module imported by the table itself (an import error fails at start, loudly)."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import omega_jupyter.server as server_package
from omega_jupyter.experiments.mlflow_api import ENDPOINTS
from omega_jupyter.server import handlers, routes
from omega_jupyter.server.routes import (
    MLFLOW_ROUTES,
    ROUTES,
    handler_verbs,
    openapi_document,
    sample_path,
)

SERVER_DIR = Path(server_package.__file__).parent
HANDLER_MODULES = sorted(
    f"omega_jupyter.server.{p.stem}"
    for p in SERVER_DIR.glob("*.py")
    if p.stem == "handlers" or p.stem.endswith("_handlers")
)


def test_every_route_and_verb_is_documented() -> None:
    paths = openapi_document()["paths"]
    for route in ROUTES:
        assert route.path in paths, route.pattern
        for verb in handler_verbs(route.handler):
            assert verb in paths[route.path], (route.pattern, verb)


def test_every_documented_operation_is_served() -> None:
    for path, operations in openapi_document()["paths"].items():
        served = [r for r in ROUTES if r.path == path]
        assert served, path
        for verb in operations:
            assert any(verb in handler_verbs(r.handler) for r in served), (path, verb)
        # The documented path, with sample values, is matched by a route that serves it.
        concrete = re.sub(
            r"\{(\w+)\}", lambda m: {"run_id": "1", "app_action": "stop"}.get(m[1], "predict"), path
        )
        first = next(r for r in ROUTES if re.fullmatch(r.pattern, concrete.lstrip("/")))
        assert first in served, (path, first.pattern)


def test_sample_paths_reach_their_route() -> None:
    for route in ROUTES:
        path = sample_path(route.pattern)
        first = next(r for r in ROUTES if re.fullmatch(r.pattern, path))
        assert first.handler is route.handler, (route.pattern, first.pattern)


def test_every_mlflow_endpoint_is_documented() -> None:
    """MLflow's endpoints are documented in the REST reference (not in our OpenAPI document)."""
    text = (SERVER_DIR.parents[1] / "docs" / "rest.md").read_text()
    for endpoint, verb in ENDPOINTS:
        assert f"`{endpoint}`" in text, endpoint
        row = next(line for line in text.splitlines() if f"`{endpoint}`" in line)
        assert verb in row, (endpoint, verb)


def test_every_handler_class_is_routed() -> None:
    routed = {route.handler for route in [*ROUTES, *MLFLOW_ROUTES]} | {handlers.NotFoundHandler}
    for module_name in HANDLER_MODULES:
        module = sys.modules[module_name]
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module_name
                and issubclass(obj, handlers.OmegaHandler)
                and handler_verbs(obj)
                and not any(issubclass(r, obj) and r is not obj for r in routed)  # a base
            ):
                assert obj in routed, f"{module_name}.{name} serves no route"


def test_importing_the_table_imports_every_handler_module() -> None:
    code = (
        "import sys, omega_jupyter.server.routes\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('omega_jupyter.server.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(out.strip().split(","))
    assert set(HANDLER_MODULES) <= loaded
    assert len(HANDLER_MODULES) >= 5


def test_the_table_swallows_no_import_error() -> None:
    tree = ast.parse(Path(routes.__file__).read_text())
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Try), "routes.py must not catch import errors"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"__import__", "import_module"}
