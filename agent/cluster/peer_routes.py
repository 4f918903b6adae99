"""Routes of the peer listener: heartbeats, membership sync, the join handshake, onboarding."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.cluster.heartbeat import Heartbeats
from agent.cluster.join import JoinService
from agent.cluster.membership import Membership
from agent.cluster.models import JoinBody, Table
from agent.cluster.onboarding import invitation_page, refusal_page
from agent.cluster.tokens import decode
from agent.core.capabilities import Capabilities
from agent.core.errors import ApiError, BadRequest, Conflict
from agent.core.http import decode_json, json_response, read_body, validate
from agent.peer.listener import body_limit, peer_node, request_target
from agent.peer.signing import DIGEST, NonceCache, verify

JOIN_BODY_LIMIT = 256 * 1024
SYNC_BODY_LIMIT = 8 * 1024 * 1024
HEARTBEAT_BODY_LIMIT = 1024 * 1024


class _Lenient(BaseModel):
    # Peers may run newer versions; unknown fields are ignored, not refused.
    model_config = ConfigDict(extra="ignore")


class HeartbeatBody(_Lenient):
    telemetry: dict[str, Any] | None = None
    capabilities: Capabilities = Field(default_factory=Capabilities)
    membership: dict[str, Any] = {}


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    data = await decode_json(await read_body(request, limit))
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
    return data


def build_peer_routes(
    membership: Membership, heartbeats: Heartbeats, joins: JoinService, nonces: NonceCache
) -> list[BaseRoute]:
    async def heartbeat(request: Request) -> Response:
        body = validate(HeartbeatBody, await _json_body(request, HEARTBEAT_BODY_LIMIT))
        observed = request.client.host if request.client else None
        membership.heard_from(peer_node(request), body.telemetry, observed, body.capabilities)
        return json_response(heartbeats.payload())

    async def sync(request: Request) -> Response:
        body = validate(Table, await _json_body(request, SYNC_BODY_LIMIT))
        if body.cluster_id != membership.cluster_id:
            raise Conflict("membership is for another cluster", code="CLUSTER_MISMATCH")
        await membership.merge(body)
        if _alone(membership):
            # This node has just been removed; it has no table to offer any more.
            return json_response({"cluster_id": None, "records": [], "nodes": []})
        return json_response(membership.wire())

    async def join(request: Request) -> Response:
        raw = await read_body(request, JOIN_BODY_LIMIT)
        data = await decode_json(raw)
        if not isinstance(data, dict):
            raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
        body = validate(JoinBody, data)
        joiner = body.node.body
        if request.headers.get(DIGEST) != hashlib.sha256(raw).hexdigest():
            raise BadRequest(
                "request body does not match its signed digest", code="BODY_DIGEST_MISMATCH"
            )

        def joiner_key(node_id: str) -> tuple[str, str] | None:
            return (joiner.public_key, "member") if node_id == joiner.node_id else None

        verify(
            request.headers,
            request.method,
            request_target(request.scope),
            key_of=joiner_key,
            nonces=nonces,
        )
        return json_response(await joins.accept(body))

    async def onboarding(request: Request) -> Response:
        text = request.path_params["token"]
        try:
            token = decode(text)
        except ApiError:
            return refusal_page("malformed", 400)
        state = await joins.token_state(token)
        if state == "valid":
            seconds_left = token.expires_at - membership.ctx.clock()
            return invitation_page(token, text, membership.me().name, seconds_left)
        return refusal_page(state, 404 if state == "unknown" else 410)

    return [
        body_limit(Route("/peer/heartbeat", heartbeat, methods=["POST"]), HEARTBEAT_BODY_LIMIT),
        body_limit(Route("/peer/membership", sync, methods=["POST"]), SYNC_BODY_LIMIT),
        body_limit(Route("/api/cluster/join", join, methods=["POST"]), JOIN_BODY_LIMIT),
        Route("/join/{token:path}", onboarding, methods=["GET"]),
    ]


def _alone(membership: Membership) -> bool:
    # Read after the merge: applying an eviction of this node makes it alone.
    return membership.cluster_id is None
