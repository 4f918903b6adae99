"""What members ask of this node's memory: take pushed versions, compare digests, page
through stamps and fetch versions. Bodies are parsed by `core.http` (UTF-8, finite numbers,
bounded nesting) and validated against `wire` before anything is merged: malformed input is a
400 and changes nothing."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import BadRequest
from agent.core.http import json_response, read_json_value, validate
from agent.core.wire import StrictModel
from agent.memory.replication import FACTS, FETCH, STAMPS, SYNC, Replicator
from agent.memory.wire import PUSH_BODY_LIMIT, FetchBody, PushBody, StampsBody, SyncBody
from agent.peer.listener import body_limit, peer_node

Wire = TypeVar("Wire", bound=StrictModel)


async def _read(request: Request, model: type[Wire], limit: int) -> Wire:
    data = await read_json_value(request, limit)
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
    return validate(model, data)


def build_peer_routes(replicator: Replicator) -> list[BaseRoute]:
    book = replicator.book
    default = 64 * 1024

    async def facts(request: Request) -> Response:
        body = await _read(request, PushBody, PUSH_BODY_LIMIT)
        taken = await replicator.merger.merge(body.facts, peer_node(request))
        return json_response({"taken": taken, "digest": book.ledger.digest})

    async def sync(request: Request) -> Response:
        await _read(request, SyncBody, default)
        return json_response({"digest": book.ledger.digest})

    async def stamps(request: Request) -> Response:
        ask = await _read(request, StampsBody, default)
        page = await book.store.stamp_page(ask.after, ask.limit + 1)
        listed = [{"id": i, "modified": m, "writer": w} for i, m, w in page[: ask.limit]]
        return json_response({"stamps": listed, "more": len(page) > ask.limit})

    async def fetch(request: Request) -> Response:
        ask = await _read(request, FetchBody, default)
        found = await book.store.get_many(ask.ids)
        return json_response({"facts": [found[i].as_wire() for i in ask.ids if i in found]})

    return [
        body_limit(Route(FACTS, facts, methods=["POST"]), PUSH_BODY_LIMIT),
        body_limit(Route(SYNC, sync, methods=["POST"]), default),
        body_limit(Route(STAMPS, stamps, methods=["POST"]), default),
        body_limit(Route(FETCH, fetch, methods=["POST"]), default),
    ]
