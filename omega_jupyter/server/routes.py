"""The route table, and how one set of handler mixins is mounted on a base class."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from omega_jupyter.server import handlers as h

VERBS = ("get", "post", "put", "delete", "patch")
NAME = r"(?P<name>[^/].*?)"

# (pattern relative to the API prefix, handler mixin, public in the standalone server)
ROUTES: list[tuple[str, type, bool]] = [
    (r"ping", h.PingHandler, True),
    (r"health", h.HealthHandler, True),
    (r"openapi\.json", h.OpenApiHandler, True),
    (r"datasets/?", h.DatasetsHandler, False),
    (rf"datasets/{NAME}/metadata", h.DatasetMetadataHandler, False),
    (rf"datasets/{NAME}", h.DatasetHandler, False),
]
_extra_routes: list[tuple[str, type, bool]] = []


def register(pattern: str, mixin: type, public: bool = False) -> None:
    """Add a route (used by resource modules that exist only when their service does)."""
    _extra_routes.append((pattern, mixin, public))


def all_routes() -> list[tuple[str, type, bool]]:
    _load_optional()
    # Patterns that start with a group (the short predict form) go last: named routes win.
    extra = sorted(_extra_routes, key=lambda route: route[0].startswith("("))
    return [*ROUTES, *extra]


def _load_optional() -> None:
    """Import the handler modules of services that may not be installed yet."""
    for module in (
        "omega_jupyter.server.model_handlers",
        "omega_jupyter.server.job_handlers",
        "omega_jupyter.server.panel_handlers",
        "omega_jupyter.server.stream_handlers",
    ):
        try:
            __import__(module)
        except ImportError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # the handler module itself does not exist
            if exc.name and exc.name.startswith("omega_jupyter."):
                continue  # its service has not landed yet
            raise


def mount(
    prefix: str,
    base: type,
    guard: Callable[[Callable], Callable],
    guard_public: bool,
    settings: dict[str, Any] | None = None,
) -> list[tuple[str, type, dict]]:
    """Tornado URL specs for every route under ``prefix`` (no trailing slash).

    Each mixin is combined with ``base``; every verb it defines is wrapped by ``guard`` (the
    mount's authentication), public routes too unless ``guard_public`` is False.
    """
    specs: list[tuple[str, type, dict]] = []
    for pattern, mixin, public in [*all_routes(), (r"(?P<path>.*)", h.NotFoundHandler, False)]:
        attrs: dict[str, Any] = {}
        if not public or guard_public:
            for verb in VERBS:
                method = getattr(mixin, verb, None)
                if method is not None:
                    attrs[verb] = guard(method)
        cls = type(mixin.__name__, (mixin, base), attrs)
        specs.append((f"{prefix}/{pattern}$", cls, dict(settings or {})))
    return specs


def sample_path(pattern: str) -> str:
    """A concrete path matching a route ``pattern`` (sample values for its groups)."""
    samples = {"action": "predict", "run_id": "1"}

    def group(match: re.Match) -> str:
        return samples.get(match[1], "x")

    path = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", group, pattern)
    return path.replace(r"\.", ".").replace("/?", "")
