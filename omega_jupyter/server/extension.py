"""The jupyter-server extension: the REST handlers at ``{base_url}omega/api/v1/…``.

Every verb is behind Jupyter's own authentication (``@tornado.web.authenticated``) and
authorization (``@authorized`` on ``omega_jupyter:<resource>``); XSRF checks stay on.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Int, List, Unicode, default

import omega_jupyter
from omega_jupyter.exceptions import AuthenticationError, PermissionDeniedError
from omega_jupyter.jobs.scheduler import Scheduler
from omega_jupyter.runtime.reconcile import ReconcileLoop
from omega_jupyter.server.app_proxy import APP_PATTERN, AppProxyHandler
from omega_jupyter.server.context import ServerContext
from omega_jupyter.server.routes import MLFLOW_ROUTES, mount
from omega_jupyter.storage import audit, credentials

API_PATH = "omega/api/v1"
APPS_PATH = "omega/apps"
MLFLOW_PATH = "omega/mlflow"  # MLFLOW_TRACKING_URI=http://host:port{base_url}omega/mlflow


class JupyterBase(APIHandler):
    """Base of the handlers inside Jupyter: the caller is Jupyter's user."""

    def resolve_bucket(self) -> str | None:
        return self.request.headers.get("Bucket") or None

    def finish(self, *args: Any, **kwargs: Any) -> Any:
        # APIHandler forces application/json; keep the type a handler chose (CSV, Parquet).
        kwargs.setdefault("set_content_type", self._headers.get("Content-Type", "application/json"))
        return super().finish(*args, **kwargs)


class JupyterAppProxy(AppProxyHandler, JupyterHandler):
    """``{base_url}omega/apps/{name}/…``: the app of the request's bucket (the ``Bucket``
    header's, else the server's), for Jupyter's logged-in user (authorized on
    ``omega_jupyter:apps``). Jupyter's own cookies do not reach the app."""

    auth_resource = "omega_jupyter:apps"

    async def authenticate(self) -> None:
        user = self.current_user
        if not user:
            raise AuthenticationError("log in to Jupyter first")
        if not self.authorizer.is_authorized(self, user, "read", self.auth_resource):
            raise PermissionDeniedError("this Jupyter user may not use apps")
        audit.set_actor(f"jupyter:{getattr(user, 'username', None) or user}")

    def client(self) -> Any:
        return self.settings["omega"].client_for(self.request.headers.get("Bucket") or None)

    def mount_prefix(self) -> str:
        return f"{self.base_url.rstrip('/')}/{APPS_PATH}/{self.name}"

    def platform_cookie(self, name: str) -> bool:
        return name.startswith("username-") or name == "_xsrf"


def jupyter_guard(method: Any) -> Any:
    @functools.wraps(method)
    async def as_user(self: Any, *args: Any, **kwargs: Any) -> Any:
        user = self.current_user
        audit.set_actor(f"jupyter:{getattr(user, 'username', None) or user}")
        result = method(self, *args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    return tornado.web.authenticated(authorized(as_user))


class OmegaExtensionApp(ExtensionApp):
    """omega_jupyter inside Jupyter Server."""

    name = "omega_jupyter"
    load_other_extensions = True

    database_url = Unicode(
        None, allow_none=True, config=True, help="SQLAlchemy URL (default: OMEGA_DATABASE_URL)."
    )
    bucket = Unicode(None, allow_none=True, config=True, help="Bucket when no Bucket: header.")
    dask_address = Unicode(
        None, allow_none=True, config=True, help="Dask scheduler (default: OMEGA_DASK_ADDRESS)."
    )
    allowed_buckets = List(
        Unicode(),
        default_value=None,
        allow_none=True,
        config=True,
        help="The only buckets a request may name with the Bucket: header; others are a 403"
        " (default: OMEGA_ALLOWED_BUCKETS, comma-separated; unset: any). JupyterHub sets it"
        " to the user's buckets (omega_jupyter.hub).",
    )
    bucket_database_urls = Dict(
        value_trait=Unicode(),
        config=True,
        help="A database URL per bucket (a bucket's own credential), used for that bucket's"
        " requests instead of database_url (default: OMEGA_BUCKET_DATABASE_URLS, JSON).",
    )
    max_body_mb = Int(256, config=True, help="Largest accepted request body, in MiB.")
    run_scheduler = Bool(
        True, config=True, help="Run a scheduler loop (notebook schedules) in this server."
    )
    load_magics = Bool(
        False,
        config=True,
        help="Load the %om magics in every IPython kernel this server starts (no %load_ext).",
    )

    @default("allowed_buckets")
    def _allowed_buckets_default(self) -> list[str] | None:
        text = os.environ.get(ALLOWED_BUCKETS_ENV, "").strip()
        return [b.strip() for b in text.split(",") if b.strip()] if text else None

    @default("bucket_database_urls")
    def _bucket_database_urls_default(self) -> dict[str, str]:
        return credentials.granted_database_urls()

    def initialize_settings(self) -> None:
        client = omega_jupyter.setup(
            url=self.database_url, bucket=self.bucket, dask_address=self.dask_address
        )
        self.omega_context = ServerContext(
            client,
            max_body_bytes=self.max_body_mb * 1024 * 1024,
            allowed_buckets=self.allowed_buckets,
            bucket_database_urls=self.bucket_database_urls,
        )
        base_url = self.serverapp.web_app.settings.get("base_url", "/")
        self.settings.update(
            omega=self.omega_context,
            omega_api_prefix=f"{base_url.rstrip('/')}/{API_PATH}",
        )

        if self.run_scheduler and _is_service(client):
            self._start_scheduler(client)  # it reconciles lost runs too
        else:  # lost runs of every kind are failed (or retried) wherever runs are served
            self.reconcile_loop = ReconcileLoop(client).start()
        if self.load_magics:
            load_magics_in_kernels(self.serverapp.kernel_manager)

    def _start_scheduler(self, client: Any) -> None:
        """A scheduler loop in a daemon thread; other loops (``om scheduler``, other servers)
        may run too: due slots are claimed so that each runs once."""
        self.scheduler = Scheduler(client)
        self.scheduler_thread = threading.Thread(
            target=self.scheduler.run, name="omega-scheduler", daemon=True
        )
        self.scheduler_thread.start()

    def initialize_handlers(self) -> None:
        self.handlers.extend(mount(API_PATH, JupyterBase, jupyter_guard, guard_public=True))
        self.handlers.append((rf"{APPS_PATH}/{APP_PATTERN}$", JupyterAppProxy))
        self.handlers.extend(
            mount(MLFLOW_PATH, JupyterBase, jupyter_guard, True, routes=MLFLOW_ROUTES)
        )

    async def stop_extension(self) -> None:
        reconcile_loop = getattr(self, "reconcile_loop", None)
        if reconcile_loop is not None:
            await asyncio.to_thread(reconcile_loop.stop)
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            scheduler.stop()
            await asyncio.to_thread(self.scheduler_thread.join, 10)
        context = getattr(self, "omega_context", None)
        if context is not None:
            context.close()


ALLOWED_BUCKETS_ENV = "OMEGA_ALLOWED_BUCKETS"
BUCKET_DATABASE_URLS_ENV = credentials.BUCKET_DATABASE_URLS_ENV


def _is_service(client: Any) -> bool:
    """Whether ``client`` logs in as the service: a server holding a bucket's credential (a
    JupyterHub user's) runs no scheduler loop; the service's loops run every bucket's
    schedules."""
    db = client.db
    if not db.is_postgres:
        return True
    try:
        return credentials.is_service(db)
    except Exception:  # the database is down: the loop starts and waits for it, as before
        return True


# IPython's ``--ext`` adds to ``extra_extensions``: the user's own ``extensions`` still load.
MAGICS_ARGUMENT = "--ext=omega_jupyter"


def load_magics_in_kernels(kernel_manager: Any) -> None:
    """Make ``kernel_manager`` start IPython kernels with ``--ext=omega_jupyter``.

    ``start_kernel(extra_arguments=...)`` is how jupyter_client adds to a kernelspec's argv
    (restarts reuse the arguments); kernels of other languages are started unchanged.
    """
    start = kernel_manager.start_kernel

    async def start_kernel(*args: Any, **kwargs: Any) -> str:
        name = kwargs.get("kernel_name") or kernel_manager.default_kernel_name
        if _is_ipython_kernel(kernel_manager.kernel_spec_manager, name):
            extra = list(kwargs.get("extra_arguments") or [])
            kwargs["extra_arguments"] = [*extra, MAGICS_ARGUMENT]
        return await start(*args, **kwargs)

    kernel_manager.start_kernel = start_kernel


def _is_ipython_kernel(spec_manager: Any, name: str) -> bool:
    try:
        spec = spec_manager.get_kernel_spec(name)
    except Exception:  # an unknown name: starting it fails with the server's own error
        return False
    return spec.language.lower() == "python" and any("ipykernel" in a for a in spec.argv)
