"""MLflow's tracking REST API at ``…/mlflow/api/2.0/mlflow/{endpoint}``: one handler that
parses the request (query for GET, JSON body for POST) and calls the endpoint's function of
``experiments/mlflow_api.py``. Errors answer in MLflow's shape, ``{"error_code", "message"}``,
which its client turns into an ``MlflowException``."""

from __future__ import annotations

from typing import Any

import tornado.web

from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.experiments import mlflow_api
from omega_jupyter.server import payloads
from omega_jupyter.server.errors import classify, public_message
from omega_jupyter.server.handlers import OmegaHandler

API = "api/2.0/mlflow/"
# Our error codes (server/errors.py) and plain HTTP statuses as MLflow's error codes.
ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "BAD_REQUEST",
    409: "ABORTED",
    413: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


class MlflowHandler(OmegaHandler):
    """Every path under the MLflow mount; ``endpoint`` is the rest of the path."""

    resource = "experiments"

    def _endpoint(self) -> tuple[Any, bool]:
        path = self.path_kwargs.get("endpoint") or ""
        verb = (self.request.method or "GET").upper()
        found = mlflow_api.ENDPOINTS.get((path.removeprefix(API), verb))
        if found is None or not path.startswith(API):
            if path.startswith(API) and any(
                e == path.removeprefix(API) for e, _ in mlflow_api.ENDPOINTS
            ):
                raise tornado.web.HTTPError(405, "%s does not serve %s", path, verb)
            raise tornado.web.HTTPError(404, "this server does not serve MLflow's %s", path)
        return found

    def writes(self) -> bool:
        try:
            return self._endpoint()[1]
        except tornado.web.HTTPError:
            return False  # answered 404/405 without touching anything

    async def get(self, endpoint: str) -> None:
        body: dict[str, Any] = {}
        for name, values in self.request.query_arguments.items():
            texts = [v.decode("utf-8", errors="replace") for v in values]
            body[name] = texts[0] if len(texts) == 1 else texts
        await self._serve(body)

    async def post(self, endpoint: str) -> None:
        body = payloads.parse_json(self.request.body) if self.request.body else {}
        if not isinstance(body, dict):
            raise BadRequestError("the request body must be a JSON object")
        await self._serve(body)

    async def put(self, endpoint: str) -> None:
        self._endpoint()

    delete = patch = put

    async def _serve(self, body: dict) -> None:
        function, _writes = self._endpoint()
        om = self.om
        self.reply(await self.call(function, om, body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason or "error"
        if isinstance(exc, tornado.web.HTTPError):
            code = {404: "ENDPOINT_NOT_FOUND"}.get(status_code) or ERROR_CODES.get(
                status_code, "BAD_REQUEST"
            )
            message = (exc.log_message % exc.args) if exc.args else (exc.log_message or message)
        elif exc is not None:
            status_code, ours = classify(exc)
            message = public_message(exc, status_code, ours)
            code = ERROR_CODES.get(status_code, "INTERNAL_ERROR")
            if isinstance(exc, mlflow_api.AlreadyExistsError):
                code = "RESOURCE_ALREADY_EXISTS"
            self.set_status(status_code)
        else:
            code = ERROR_CODES.get(status_code, "INTERNAL_ERROR")
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="omega"')
        self.set_header("Content-Type", "application/json")
        self.finish(payloads.dumps({"error_code": code, "message": message}))
