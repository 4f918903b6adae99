"""What members ask of each other's storage: chunks in and out, manifests, sync digests."""

from __future__ import annotations

import anyio.to_thread
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.core.errors import ApiError, BadRequest, NotFound
from agent.core.http import json_response, read_body, read_json
from agent.storage.blocks import CHUNK_SIZE
from agent.storage.chunks import ChunkCorrupt, ChunkMissing, QuotaExceeded, validate_digest
from agent.storage.replication import Replicator
from agent.storage.service import InsufficientStorage, StorageService


class SyncBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    digest: str


def _digest(request: Request) -> str:
    try:
        return validate_digest(request.path_params["digest"])
    except ValueError:
        raise BadRequest("not a chunk digest", code="INVALID_DIGEST") from None


def build_peer_routes(service: StorageService, replicator: Replicator) -> list[BaseRoute]:
    chunks = service.chunks

    async def put_chunk(request: Request) -> Response:
        digest = _digest(request)
        if request.headers.get("x-fabric-content-sha256") != digest:
            raise BadRequest(
                "a chunk's body must be signed as its own digest", code="INVALID_DIGEST"
            )
        data = await read_body(request, CHUNK_SIZE)
        try:
            await anyio.to_thread.run_sync(chunks.put, digest, data)
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
        await replicator.merge(await request.json())
        return json_response(await replicator.snapshot())

    async def sync(request: Request) -> Response:
        await read_json(request, SyncBody)
        return json_response({"digest": (await replicator.snapshot())["digest"]})

    return [
        Route("/peer/storage/chunks/{digest}", put_chunk, methods=["PUT"]),
        Route("/peer/storage/chunks/{digest}", get_chunk, methods=["GET"]),
        Route("/peer/storage/manifests", manifests, methods=["POST"]),
        Route("/peer/storage/sync", sync, methods=["POST"]),
    ]
