"""REST routes of models: list, describe, and in-process predict / predict_proba / score /
transform (``?async=true`` runs the action on the cluster instead: 202 + the run's URL).
On PostgreSQL a pickled model is answered only with ``?async=true`` (``predict.check_inline``)."""

from __future__ import annotations

import time
from typing import Any

from omega_jupyter.exceptions import BadRequestError
from omega_jupyter.experiments.tracking import record_prediction, tracking_experiment
from omega_jupyter.models.predict import ACTIONS, ModelCache
from omega_jupyter.server import payloads, predict, resources
from omega_jupyter.server.handlers import OmegaHandler


class ModelsHandler(OmegaHandler):
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


class ModelHandler(OmegaHandler):
    resource = "models"

    async def get(self, name: str) -> None:
        om = self.om
        self.reply(await self.call(om.models.describe, name))

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.models.drop, name)
        cache = self.ctx.extras.get("models")
        if cache is not None:
            cache.forget(om.models, name)
        self.reply({"name": name, "deleted": True})


class ModelActionHandler(OmegaHandler):
    """``GET|POST /model/{name}/{action}``: input from ``?datax=`` or the JSON body."""

    resource = "models"

    def writes(self) -> bool:
        # Answered inline, a model action stores nothing, whatever the verb; with async it
        # records a run (GET or POST alike).
        try:
            return payloads.bool_param(self.arg("async"), "async")
        except BadRequestError:
            return True  # refused as a bad request later; never taken for a read

    async def get(self, name: str, action: str) -> None:
        await self._act(name, action)

    async def post(self, name: str, action: str) -> None:
        await self._act(name, action)

    def _models(self) -> ModelCache:
        cache = self.ctx.extras.get("models")
        if cache is None:
            cache = self.ctx.extras["models"] = ModelCache()
        return cache

    async def _act(self, name: str, action: str) -> None:
        if action not in ACTIONS:
            raise BadRequestError(f"unknown action {action!r}: use {', '.join(ACTIONS)}")
        om = self.om
        datax, datay = self.arg("datax"), self.arg("datay")
        run_async = payloads.bool_param(self.arg("async"), "async")
        retries = payloads.int_param(self.arg("max_retries"), "max_retries", None)
        # the model first: a request for a model that is not there is a 404, whatever its input
        cache = self._models()
        meta = cache.cached_meta(om.models, name) or await self.call(cache.resolve, om.models, name)
        if run_async:
            await self._submit(om, name, action, datax, datay, retries)
            return
        predict.check_inline(meta, om.db.is_postgres, name)  # before any byte is unpickled
        model = cache.cached_model(om.models, meta)
        if model is None:
            model = await self.call(cache.load, om.models, meta)
        X, y = await self._input(om, datax, datay)
        started = time.perf_counter()
        if predict.rows_of(X) <= predict.INLINE_ROWS:
            result = predict.apply_request(model, meta, action, X, y)  # small: no thread hop
        else:
            result = await self.call(predict.apply_request, model, meta, action, X, y)
        experiment = tracking_experiment(meta.attributes)
        if experiment:  # queued for the background flusher: no database round trip here
            seconds = time.perf_counter() - started
            record_prediction(
                om.db, om.bucket, experiment, meta.name, meta.version, action, X, result, seconds
            )
        answer = {"model": meta.name, "version": meta.version}
        answer["result"] = predict.result_json(result)
        self.set_header("Content-Type", "application/json")
        self.finish(payloads.dumps(answer))

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
        self.set_header("Location", f"{prefix}/runs/{run_id}")
        self.reply({"run": run_id, "state": "queued", "location": f"{prefix}/runs/{run_id}"}, 202)
