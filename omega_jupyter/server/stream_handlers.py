"""REST routes of streams: list, read after an offset, append, drop."""

from __future__ import annotations

from typing import Any

from omega_jupyter.server import payloads, resources
from omega_jupyter.server.handlers import OmegaHandler

READ_LIMIT = 1000  # messages per GET unless ?limit= says otherwise; page on with ?since=


def message_record(message: Any) -> dict[str, Any]:
    return {
        "offset": message.offset,
        "timestamp": message.timestamp.isoformat(),
        "data": message.data,
    }


class StreamsHandler(OmegaHandler):
    """``GET /streams``: streams matching ``?name=``, paginated."""

    resource = "streams"

    async def get(self) -> None:
        limit, offset = self.paging()
        om = self.om
        pattern = self.arg("name")

        def listing() -> dict:
            return resources.page(om.streams.list(pattern, raw=True), limit, offset)

        self.reply(await self.call(listing))


class StreamHandler(OmegaHandler):
    """``GET /streams/{name}?since=&limit=``, ``POST /streams/{name}`` (``?batch=true``: the
    body is an array of messages), ``DELETE /streams/{name}``."""

    resource = "streams"

    async def get(self, name: str) -> None:
        since = payloads.int_param(self.arg("since"), "since", 0) or 0
        limit = payloads.int_param(self.arg("limit"), "limit", READ_LIMIT, minimum=1)
        om = self.om

        def read() -> dict:
            stream = om.streams.get(name)
            items = [message_record(m) for m in stream.read(since=since, limit=limit)]
            last = items[-1]["offset"] if items else since
            return {"name": name, "messages": items, "next_since": last}

        self.reply(await self.call(read))

    async def post(self, name: str) -> None:
        body = self.json_body()
        batch = payloads.bool_param(self.arg("batch"), "batch")
        # with ?batch=true an array is its messages; any other body is one message
        items = body if batch and isinstance(body, list) else [body]
        om = self.om

        def append() -> dict:
            offset = om.streams.put(items, name, many=True)
            return {"name": name, "offset": offset, "appended": len(items)}

        self.reply(await self.call(append), 201)

    async def delete(self, name: str) -> None:
        om = self.om
        await self.call(om.streams.drop, name)
        self.reply({"name": name, "deleted": True})
