"""REST routes of models: list, describe, and in-process predict / predict_proba / score /
transform (``?async=true`` runs the action on the cluster instead: 202 + the run's URL)."""

from __future__ import annotations

from typing import Any

from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.server import openapi, payloads, predict, resources
from omega_jupyter.server.handlers import OmegaMixin
from omega_jupyter.server.routes import NAME, register

ACTION = r"(?P<action>[a-z_]+)"


class ModelsHandler(OmegaMixin):
    resource = "models"

    async def get(self) -> None:
        limit, offset = self.paging()
        om = self.om

        def listing() -> dict:
            return resources.page(
                [resources.summary(m) for m in om.models.list(self.arg("name"), raw=True)],
                limit,
                offset,
            )

        self.reply(await self.call(listing))


class ModelHandler(OmegaMixin):
    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(predict.describe_model, om, name))

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.models.drop, name)
        cache = self.ctx.extras.get("models")
        if cache is not None:
            cache.forget(om, name)
        self.reply({"name": name, "deleted": True})


class ModelActionHandler(OmegaMixin):
    """``GET|POST /model/{name}/{action}``: input from ``?datax=`` or the JSON body."""

    resource = "models"

    async def get(self, name: str, action: str) -> None:
        await self._act(name, action)

    async def post(self, name: str, action: str) -> None:
        await self._act(name, action)

    def _models(self) -> predict.ModelCache:
        cache = self.ctx.extras.get("models")
        if cache is None:
            cache = self.ctx.extras["models"] = predict.ModelCache()
        return cache

    async def _act(self, name: str, action: str) -> None:
        if action not in predict.ACTIONS:
            raise BadRequestError(f"unknown action {action!r}: use {', '.join(predict.ACTIONS)}")
        om = self.om
        datax, datay = self.arg("datax"), self.arg("datay")
        if payloads.bool_param(self.arg("async"), "async"):
            retries = payloads.int_param(self.arg("max_retries"), "max_retries", None)
            await self._submit(om, name, action, datax, datay, retries)
            return
        cache = self._models()
        meta = cache.cached_meta(om, name) or await self.call(cache.resolve, om, name)
        model = cache.cached_model(om, meta)
        if model is None:
            model = await self.call(cache.load, om, meta)
        X, y = await self._input(om, datax, datay)
        if predict.rows_of(X) <= predict.INLINE_ROWS:
            result = predict.apply(model, meta, action, X, y)  # small: no thread hop
        else:
            result = await self.call(predict.apply, model, meta, action, X, y)
        answer = {"model": meta.name, "version": meta.version}
        answer["result"] = predict.result_json(result)
        self.set_header("Content-Type", "application/json")  # type: ignore[attr-defined]
        self.finish(payloads.dumps(answer))  # type: ignore[attr-defined]

    async def _input(self, om: Any, datax: str | None, datay: str | None) -> tuple[Any, Any]:
        if datax:
            X = await self.call(om.datasets.get, datax)
            y = await self.call(om.datasets.get, datay) if datay else None
            return X, y
        if not self.request.body:
            raise BadRequestError("send the input as ?datax=<dataset> or a JSON body")
        X, y = predict.input_from_json(self.json_body())
        if y is None and datay:
            y = await self.call(om.datasets.get, datay)
        return X, y

    async def _submit(
        self, om: Any, name: str, action: str, datax: Any, datay: Any, retries: int | None
    ) -> None:
        X, y = (datax, datay) if datax else predict.input_from_json(self.json_body())

        def submit() -> str:
            runner = om.runtime.model(name)
            call = getattr(runner, action)
            handle = (
                call(X, y, max_retries=retries)
                if action == "score"
                else call(X, max_retries=retries)
            )
            return handle.id

        run_id = await self.call(submit)
        prefix = self.settings.get("omega_api_prefix", "/api/v1")
        self.set_header("Location", f"{prefix}/runs/{run_id}")  # type: ignore[attr-defined]
        self.reply({"run": run_id, "state": "queued", "location": f"{prefix}/runs/{run_id}"}, 202)


register(r"models/?", ModelsHandler)
register(rf"models/{NAME}", ModelHandler)
register(rf"model/{NAME}/{ACTION}", ModelActionHandler)
# The short form ``/api/v1/{name}/predict?datax=…`` (single-segment model names).
register(r"(?P<name>[^/]+)/(?P<action>predict|predict_proba|score|transform)", ModelActionHandler)

_NAME = openapi.NAME_PARAM
_ACTION = {
    "name": "action",
    "in": "path",
    "required": True,
    "schema": {"enum": list(predict.ACTIONS)},
}
_INPUT = [
    {"name": "datax", "in": "query", "schema": {"type": "string"}, "description": "dataset"},
    {"name": "datay", "in": "query", "schema": {"type": "string"}, "description": "for score"},
    {"name": "async", "in": "query", "schema": {"type": "boolean"}},
    {
        "name": "max_retries",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0},
        "description": "with async=true: tries again should the run lose its worker (default 1)",
    },
]
_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "{columns,data} | {data:[{}]} | dataframe_split | "
                "dataframe_records | inputs | instances; y for score",
            }
        }
    }
}
_ACT = "Run an action in the server (or on the cluster with async=true: 202 + Location)"
openapi.add_paths(
    {
        "/models": {"get": openapi.op("List models", [openapi.PATTERN, *openapi.PAGING])},
        "/models/{name}": {
            "get": openapi.op("Versions, tags and signature", [_NAME]),
            "delete": openapi.op("Drop a model with all its versions and tags", [_NAME]),
        },
        "/model/{name}/{action}": {
            "get": openapi.op(_ACT, [_NAME, _ACTION, *_INPUT]),
            "post": openapi.op(_ACT, [_NAME, _ACTION, *_INPUT], _BODY),
        },
    }
)
