"""Routes of the peer listener: heartbeats, membership sync, the join handshake, onboarding."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from agent.cluster.heartbeat import Heartbeats, parse_members
from agent.cluster.join import JoinService
from agent.cluster.membership import Membership
from agent.cluster.onboarding import invitation_page, refusal_page
from agent.cluster.store import Member
from agent.cluster.tokens import decode
from agent.core.errors import ApiError, BadRequest, Conflict
from agent.core.http import json_response, read_body, validate
from agent.peer.listener import peer_node, request_target
from agent.peer.signing import DIGEST, NonceCache, verify

JOIN_BODY_LIMIT = 256 * 1024
SYNC_BODY_LIMIT = 8 * 1024 * 1024


class _Lenient(BaseModel):
    # Peers may run newer versions; unknown fields are ignored, not refused.
    model_config = ConfigDict(extra="ignore")


class HeartbeatBody(_Lenient):
    telemetry: dict[str, Any] | None = None
    capabilities: dict[str, Any] = {}
    membership: dict[str, Any] = {}


class SyncBody(_Lenient):
    cluster_id: str | None = None
    members: list[dict[str, Any]]


class JoinBody(_Lenient):
    token_id: str
    secret: str
    node: dict[str, Any]


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    raw = await read_body(request, limit)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("malformed JSON body", code="INVALID_JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object", code="INVALID_JSON")
    return data


def build_peer_routes(
    membership: Membership, heartbeats: Heartbeats, joins: JoinService, nonces: NonceCache
) -> list[BaseRoute]:
    async def heartbeat(request: Request) -> Response:
        body = validate(HeartbeatBody, await _json_body(request, SYNC_BODY_LIMIT))
        observed = request.client.host if request.client else None
        membership.heard_from(peer_node(request), body.telemetry, observed, body.capabilities)
        return json_response(heartbeats.payload())

    async def sync(request: Request) -> Response:
        body = validate(SyncBody, await _json_body(request, SYNC_BODY_LIMIT))
        if body.cluster_id and membership.cluster_id and body.cluster_id != membership.cluster_id:
            raise Conflict("membership is for another cluster", code="CLUSTER_MISMATCH")
        try:
            incoming = parse_members(body.members)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRequest(f"malformed member table: {exc}") from None
        await membership.merge(incoming)
        if membership.cluster_id is None:
            # This node has just been removed; it has no table to offer any more.
            return json_response({"cluster_id": None, "version": 0, "members": []})
        return json_response(membership.wire())

    async def join(request: Request) -> Response:
        raw = await read_body(request, JOIN_BODY_LIMIT)
        try:
            body = validate(JoinBody, json.loads(raw))
            joiner = Member.from_wire({**body.node, "status": "member"})
        except ApiError:
            raise
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise BadRequest(f"malformed join request: {exc}", code="INVALID_JSON") from None
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
        return json_response(await joins.accept(body.token_id, body.secret, joiner))

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
        Route("/peer/heartbeat", heartbeat, methods=["POST"]),
        Route("/peer/membership", sync, methods=["POST"]),
        Route("/api/cluster/join", join, methods=["POST"]),
        Route("/join/{token:path}", onboarding, methods=["GET"]),
    ]
