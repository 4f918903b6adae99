"""What members ask of this node's brain: a search of its own index only (the asking node
merges). The body is validated as `PeerSearchBody` before anything runs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.brain.cluster import PATH
from agent.brain.models import PeerSearchAnswer, PeerSearchBody
from agent.brain.service import BrainService
from agent.core.http import json_response, read_json


def build_peer_routes(service: BrainService) -> list[BaseRoute]:
    async def search(request: Request) -> Response:
        ask = await read_json(request, PeerSearchBody)
        hits = await service.local_search(ask.q, ask.k, ask.mode, ask.path)
        return json_response(PeerSearchAnswer(hits=hits))

    return [Route(PATH, search, methods=["POST"])]
