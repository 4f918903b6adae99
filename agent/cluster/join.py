"""Joining, leaving and evicting.

Issuer side: `issue_token` records a single-use token (10 min) and `accept` runs the handshake
for a joiner that proves the secret and signs its request with the key it registers.
Joiner side: `join` pins the issuer's certificate by the token's fingerprint before sending
anything, runs the handshake, and adopts the cluster and its member table.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import httpx

from agent.cluster.heartbeat import Heartbeats, parse_members
from agent.cluster.membership import Membership
from agent.cluster.store import EVICTED, LEFT, MEMBER, Member
from agent.cluster.tokens import JoinToken, decode, hash_secret, new_token
from agent.core.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from agent.core.subsystem import Context
from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable
from agent.peer.identity import fingerprint_of, node_id_for
from agent.peer.signing import public_key_from_b64
from agent.peer.tls import FingerprintMismatch, fetch_certificate

log = logging.getLogger("openfabric.cluster")


class JoinService:
    def __init__(
        self, ctx: Context, membership: Membership, peers: PeerClient, heartbeats: Heartbeats
    ) -> None:
        self.ctx = ctx
        self.membership = membership
        self.peers = peers
        self.heartbeats = heartbeats

    async def issue_token(self) -> dict[str, Any]:
        cluster_id = await self.membership.ensure_cluster_id()
        me = self.membership.me()
        now = self.ctx.clock()
        token = new_token(
            cluster_id=cluster_id,
            issuer=me.node_id,
            addresses=me.addresses,
            peer_port=me.peer_port,
            fingerprint=me.fingerprint,
            now=now,
            ttl=self.ctx.settings.join_token_ttl,
        )
        await self.membership.store.prune_tokens(now - 86400)
        await self.membership.store.add_token(
            token.token_id, token.secret_sha256, now, token.expires_at
        )
        encoded = token.encode()
        host = me.addresses[0]
        return {
            "token": encoded,
            "join_url": f"https://{host}:{me.peer_port}/join/{encoded}",
            "command": f"openfabric join {encoded}",
            "expires_at": token.expires_at,
            "expires_in": round(token.expires_at - now, 3),
            "cluster_id": cluster_id,
            "issuer": {
                "node_id": me.node_id,
                "name": me.name,
                "addresses": list(me.addresses),
                "peer_port": me.peer_port,
                "fingerprint": me.fingerprint,
            },
        }

    async def token_state(self, token: JoinToken) -> str:
        """valid | expired | used | unknown, as this issuer sees it."""
        row = await self.membership.store.token(token.token_id)
        if row is None or row["secret_sha256"] != hash_secret(token.secret):
            return "unknown"
        if row["used_at"] is not None:
            return "used"
        return "expired" if row["expires_at"] <= self.ctx.clock() else "valid"

    async def accept(self, token_id: str, secret: str, joiner: Member) -> dict[str, Any]:
        """The issuer's half of the handshake; the caller has verified the request signature
        against `joiner.public_key`."""
        if node_id_for(public_key_from_b64(joiner.public_key)) != joiner.node_id:
            raise Unauthorized("node_id does not belong to the public key", code="BAD_IDENTITY")
        if fingerprint_of(joiner.cert_pem.encode()) != joiner.fingerprint:
            raise BadRequest("certificate does not match its fingerprint", code="BAD_IDENTITY")
        existing = self.membership.members.get(joiner.node_id)
        if existing is not None and existing.status == EVICTED:
            raise Forbidden(
                "this node's key was evicted from the cluster; reset its identity "
                "(remove <home>/identity) to join again",
                code="NODE_EVICTED",
            )
        if existing is not None and existing.status == MEMBER:
            raise Conflict("this node is already a member", code="ALREADY_MEMBER")
        now = self.ctx.clock()
        if not await self.membership.store.consume_token(
            token_id, hash_secret(secret), joiner.node_id, now
        ):
            raise await self._refusal(token_id, secret)
        rev = max(joiner.rev, existing.rev + 1 if existing else 1)
        member = replace(joiner, status=MEMBER, rev=rev, joined_at=now, updated_at=now)
        await self.membership.change(member)
        self.membership.heard_from(member.node_id, None)
        self.heartbeats.spawn(self.heartbeats.broadcast())
        return self.membership.wire()

    async def _refusal(self, token_id: str, secret: str) -> ApiError:
        row = await self.membership.store.token(token_id)
        if row is None or row["secret_sha256"] != hash_secret(secret):
            return Unauthorized("join token is not valid for this cluster", code="INVALID_TOKEN")
        if row["used_at"] is not None:
            return Gone("join token was already used", code="TOKEN_USED")
        return Gone("join token has expired; ask for a new one", code="TOKEN_EXPIRED")

    async def join(self, text: str) -> dict[str, Any]:
        token = decode(text)
        if token.expires_at <= self.ctx.clock():
            raise Gone("join token has expired; ask for a new one", code="TOKEN_EXPIRED")
        if self.membership.in_cluster():
            raise Conflict(
                "this node is already in a cluster; leave it first (openfabric cluster leave)",
                code="ALREADY_IN_CLUSTER",
            )
        if token.issuer == self.membership.node_id:
            raise Conflict("a node cannot join with its own token", code="OWN_TOKEN")
        me = self.membership.me()
        body = {"token_id": token.token_id, "secret": token.secret, "node": me.as_wire()}
        response = await self._handshake(token, body)
        answer = response.json()
        if response.status_code != 200:
            raise ApiError(
                answer.get("error", "the issuer refused the join"),
                code=answer.get("error_code", "JOIN_REFUSED"),
                details=answer.get("details") or {},
                status=response.status_code,
            )
        members = parse_members(answer["members"])
        await self.membership.adopt_cluster(str(answer["cluster_id"]))
        await self.membership.merge(members)
        self.membership.heard_from(token.issuer, None)
        log.info("joined cluster %s through %s", answer["cluster_id"], token.issuer)
        return {
            "cluster_id": answer["cluster_id"],
            "joined_via": token.issuer,
            "members": [m.node_id for m in self.membership.active()],
        }

    async def _handshake(self, token: JoinToken, body: dict[str, Any]) -> httpx.Response:
        failures: list[str] = []
        for address in token.addresses:
            try:
                pem = await fetch_certificate(address, token.peer_port, token.fingerprint)
            except FingerprintMismatch as exc:
                raise Unprocessable(
                    f"the issuer's certificate does not match the token: {exc}",
                    code="FINGERPRINT_MISMATCH",
                ) from None
            except (OSError, TimeoutError) as exc:
                failures.append(f"{address}: {exc}")
                continue
            target = PeerTarget(token.issuer, (address,), token.peer_port, pem)
            try:
                return await self.peers.request(
                    target, "POST", "/api/cluster/join", json_body=body, timeout=15
                )
            except PeerUnreachable as exc:
                failures.append(f"{address}: {exc}")
        raise ServiceUnavailable(
            "could not reach the node that issued the token",
            code="ISSUER_UNREACHABLE",
            details={"tried": failures},
        )

    async def leave(self) -> dict[str, Any]:
        if not self.membership.in_cluster():
            raise Conflict("this node is not in a cluster", code="NOT_IN_CLUSTER")
        me = self.membership.me().bumped(self.ctx.clock(), status=LEFT)
        cluster_id = self.membership.cluster_id
        self.membership.members[me.node_id] = me
        await self.heartbeats.broadcast()
        await self.membership.become_lone(me)
        return {"left": cluster_id, "node_id": me.node_id}

    async def evict(self, node_id: str) -> dict[str, Any]:
        member = self.membership.members.get(node_id)
        if member is None or member.status != MEMBER:
            raise NotFound(
                f"no node with id {node_id!r} in this cluster",
                code="NODE_NOT_FOUND",
                details={"node_id": node_id},
            )
        if node_id == self.membership.node_id:
            raise Conflict(
                "a node cannot evict itself; use `openfabric cluster leave`, or "
                "evict it from another member",
                code="CANNOT_EVICT_SELF",
                details={"node_id": node_id},
            )
        evicted = member.bumped(self.ctx.clock(), status=EVICTED)
        await self.membership.change(evicted)
        await self.heartbeats.broadcast(extra=[member])
        await self.peers.forget(node_id)
        return {"node_id": node_id, "evicted": True}
