"""What members ask of each other's storage: chunks in and out, manifests, sync digests, and
pins for uploads in progress.

A member can sign any body, so bodies are parsed by `core.http` (UTF-8, finite numbers,
bounded nesting) and validated against `requests` before anything is stored: malformed input is
a 400, never a 500.
"""

from __future__ import annotations

from typing import TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import ApiError, BadRequest, NotFound
from agent.core.http import json_response, read_body, read_json, read_json_value, validate
from agent.core.wire import StrictModel as WireModel
from agent.peer.listener import body_limit, peer_node
from agent.storage.blocks import CHUNK_SIZE
from agent.storage.chunks import ChunkCorrupt, ChunkMissing, QuotaExceeded, validate_digest
from agent.storage.pins import Pins
from agent.storage.replication import Replicator
from agent.storage.requests import PinBody, PushBody, SyncBody
from agent.storage.service import InsufficientStorage, StorageService

# The whole manifest table goes in one push (`Replicator.sync_all`): about 250 GB of files.
MANIFESTS_BODY_LIMIT = 16 * 1024 * 1024
Wire = TypeVar("Wire", bound=WireModel)


def _digest(request: Request) -> str:
    try:
        return validate_digest(request.path_params["digest"])
    except ValueError:
        raise BadRequest("not a chunk digest", code="INVALID_DIGEST") from None


async def _read(request: Request, model: type[Wire]) -> Wire:
    data = await read_json_value(request, MANIFESTS_BODY_LIMIT)
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
    return validate(model, data)


def build_peer_routes(
    service: StorageService, replicator: Replicator, pins: Pins
) -> list[BaseRoute]:
    chunks = service.chunks

    async def put_chunk(request: Request) -> Response:
        digest = _digest(request)
        if request.headers.get("x-fabric-content-sha256") != digest:
            raise BadRequest(
                "a chunk's body must be signed as its own digest", code="INVALID_DIGEST"
            )
        data = await read_body(request, CHUNK_SIZE)

        def keep() -> None:
            # Pinned before the store looks for it: the sender's manifest comes only after
            # its last chunk, and a copy it is reusing must not be collected meanwhile.
            pins.pin_remote(peer_node(request), digest)
            chunks.put(digest, data)

        try:
            await anyio.to_thread.run_sync(keep)
        except QuotaExceeded:
            raise InsufficientStorage("this node's storage quota is full") from None
        except ChunkCorrupt:
            raise BadRequest("chunk does not match its digest", code="INVALID_DIGEST") from None
        await service.store.add_holders([(digest, replicator.me)])
        service.refresh_capacity()
        return json_response({"stored": True})

    async def get_chunk(request: Request) -> Response:
        digest = _digest(request)
        try:
            data = await anyio.to_thread.run_sync(chunks.get, digest)
        except ChunkMissing:
            raise NotFound("this node does not hold that chunk", code="CHUNK_NOT_FOUND") from None
        except ChunkCorrupt:
            service.corrupt.inc()
            raise ApiError(
                "this node's copy is corrupt", code="CHUNK_CORRUPT", status=409
            ) from None
        return Response(data, media_type="application/octet-stream")

    async def manifests(request: Request) -> Response:
        await replicator.merge(await _read(request, PushBody), peer_node(request))
        return json_response(await replicator.snapshot())

    async def keep_pinned(request: Request) -> Response:
        body = await _read(request, PinBody)
        node = peer_node(request)
        for digest in body.digests:
            pins.pin_remote(node, digest)
        return json_response({"pinned": len(body.digests)})

    async def sync(request: Request) -> Response:
        await read_json(request, SyncBody)
        return json_response({"digest": (await replicator.snapshot())["digest"]})

    return [
        body_limit(Route("/peer/storage/chunks/{digest}", put_chunk, methods=["PUT"]), CHUNK_SIZE),
        Route("/peer/storage/chunks/{digest}", get_chunk, methods=["GET"]),
        body_limit(
            Route("/peer/storage/manifests", manifests, methods=["POST"]), MANIFESTS_BODY_LIMIT
        ),
        body_limit(
            Route("/peer/storage/pins", keep_pinned, methods=["POST"]), MANIFESTS_BODY_LIMIT
        ),
        Route("/peer/storage/sync", sync, methods=["POST"]),
    ]
