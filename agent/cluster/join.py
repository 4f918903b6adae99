"""Joining, leaving and evicting.

Issuer side: `issue_token` records a single-use token (10 min) bound to the issuer's current
cluster, and `accept` runs the handshake for a joiner that proves the secret, names the same
cluster and signs its request and its own entry with the key it registers; the issuer then
signs the admission record. Joiner side: `join` pins the issuer's certificate by the token's
fingerprint before sending anything, runs the handshake, and adopts the table only if it is
the token's cluster, admits this node, and has the issuer (that certificate) as a member.

Leaving records a leave signed by this node; evicting records a final, signed eviction and
answers the members the evicted node admitted, which stay (listed for review) unless they
are evicted in the same step.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import ValidationError

from agent.cluster import records
from agent.cluster.heartbeat import Heartbeats
from agent.cluster.ledger import admitted_by
from agent.cluster.membership import Membership
from agent.cluster.models import (
    AdmittedNode,
    EvictResult,
    IssuedJoinToken,
    JoinBody,
    JoinIssuer,
    JoinResult,
    LeaveResult,
    Table,
)
from agent.cluster.records import check_node
from agent.cluster.store import EVICTED, LEFT, MEMBER, Member
from agent.cluster.tokens import JoinToken, decode, hash_secret, new_token
from agent.core.errors import (
    ApiError,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
)
from agent.core.http import peer_answer
from agent.core.subsystem import Context
from agent.peer.client import PeerClient, PeerTarget, PeerUnreachable
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

    async def issue_token(self) -> IssuedJoinToken:
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
            token.token_id, token.secret_sha256, cluster_id, now, token.expires_at
        )
        encoded = token.encode()
        host = me.addresses[0]
        return IssuedJoinToken(
            token=encoded,
            join_url=f"https://{host}:{me.peer_port}/join/{encoded}",
            command=f"openfabric join {encoded}",
            expires_at=token.expires_at,
            expires_in=round(token.expires_at - now, 3),
            cluster_id=cluster_id,
            issuer=JoinIssuer(
                node_id=me.node_id,
                name=me.name,
                addresses=list(me.addresses),
                peer_port=me.peer_port,
                fingerprint=me.fingerprint,
            ),
        )

    async def token_state(self, token: JoinToken) -> str:
        """valid | expired | used | unknown, as this issuer sees it."""
        row = await self.membership.store.token(token.token_id)
        if (
            row is None
            or row["secret_sha256"] != hash_secret(token.secret)
            or row["cluster_id"] != self.membership.cluster_id
            or token.cluster_id != row["cluster_id"]
        ):
            return "unknown"
        if row["used_at"] is not None:
            return "used"
        return "expired" if row["expires_at"] <= self.ctx.clock() else "valid"

    async def accept(self, body: JoinBody) -> dict[str, Any]:
        """The issuer's half of the handshake; the caller has verified the request signature
        against the key in `body.node`."""
        entry = check_node(body.node)
        if entry is None:
            raise Unauthorized(
                "the joining node's entry does not verify against its key", code="BAD_IDENTITY"
            )
        joiner = entry.body
        standing = self.membership.standings.get(joiner.node_id)
        if standing is not None and standing.status == EVICTED:
            raise Forbidden(
                "this node's key was evicted from the cluster; reset its identity "
                "(remove <home>/identity) to join again",
                code="NODE_EVICTED",
            )
        if standing is not None and standing.status == MEMBER:
            raise Conflict("this node is already a member", code="ALREADY_MEMBER")
        cluster_id = self.membership.cluster_id
        if cluster_id is None or body.cluster_id != cluster_id:
            # The token names another cluster than the one this node is in now.
            raise Unauthorized("join token is not valid for this cluster", code="INVALID_TOKEN")
        now = self.ctx.clock()
        if not await self.membership.store.consume_token(
            body.token_id, hash_secret(body.secret), cluster_id, joiner.node_id, now
        ):
            raise await self._refusal(body.token_id, body.secret)
        admission = records.admit(
            self.ctx.identity,
            cluster_id,
            joiner.node_id,
            joiner.public_key,
            body.token_id,
            self.membership.now_ms(),
        )
        await self.membership.add([admission], [entry])
        self.membership.heard_from(joiner.node_id, None)
        self.heartbeats.spawn(self.heartbeats.broadcast())
        return self.membership.wire()

    async def _refusal(self, token_id: str, secret: str) -> ApiError:
        row = await self.membership.store.token(token_id)
        if (
            row is None
            or row["secret_sha256"] != hash_secret(secret)
            or row["cluster_id"] != self.membership.cluster_id
        ):
            return Unauthorized("join token is not valid for this cluster", code="INVALID_TOKEN")
        if row["used_at"] is not None:
            return Gone("join token was already used", code="TOKEN_USED")
        return Gone("join token has expired; ask for a new one", code="TOKEN_EXPIRED")

    async def join(self, text: str) -> JoinResult:
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
        body = {
            "token_id": token.token_id,
            "secret": token.secret,
            "cluster_id": token.cluster_id,
            "node": self.membership.nodes[self.membership.node_id].wire(),
        }
        response = await self._handshake(token, body)
        answer = _answer(response)
        if response.status_code != 200:
            raise ApiError(
                str(answer.get("error", "the issuer refused the join")),
                code=str(answer.get("error_code", "JOIN_REFUSED")),
                details=answer.get("details") or {},
                status=response.status_code,
            )
        await self._enter(token, answer)
        self.membership.heard_from(token.issuer, None)
        log.info("joined cluster %s through %s", token.cluster_id, token.issuer)
        return JoinResult(
            cluster_id=token.cluster_id,
            joined_via=token.issuer,
            members=[m.node_id for m in self.membership.active()],
        )

    async def _enter(self, token: JoinToken, answer: dict[str, Any]) -> None:
        """Adopt the issuer's table only if it is the token's cluster, admits this node and
        has the issuer, with the pinned certificate, as a member."""
        try:
            table = Table.model_validate(answer)
        except ValidationError:
            raise _bad_answer("its member table is malformed") from None
        if table.cluster_id != token.cluster_id:
            raise _bad_answer("it answered for another cluster than the token's")
        try:
            await self.membership.enter(table, token.issuer, token.fingerprint)
        except ValueError as exc:
            raise _bad_answer(str(exc)) from None

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

    async def leave(self) -> LeaveResult:
        membership = self.membership
        cluster_id = membership.cluster_id
        if cluster_id is None or not membership.in_cluster():
            raise Conflict("this node is not in a cluster", code="NOT_IN_CLUSTER")
        own = membership.standings[membership.node_id]
        record = records.leave(
            self.ctx.identity, cluster_id, list(own.open)[:64], membership.now_ms()
        )
        # Pushed to every member first, and only then is the cluster forgotten here.
        membership.stage(record)
        await self.heartbeats.broadcast()
        await membership.become_lone(LEFT)
        return LeaveResult(left=cluster_id, node_id=membership.node_id)

    async def evict(self, node_id: str, evict_admitted: bool = False) -> EvictResult:
        """Evict a member for good. The members it admitted are listed for review and stay,
        unless `evict_admitted`, which evicts them in the same step."""
        membership = self.membership
        member = membership.members.get(node_id)
        if member is None or member.status != MEMBER:
            raise NotFound(
                f"no node with id {node_id!r} in this cluster",
                code="NODE_NOT_FOUND",
                details={"node_id": node_id},
            )
        if node_id == membership.node_id:
            raise Conflict(
                "a node cannot evict itself; use `openfabric cluster leave`, or "
                "evict it from another member",
                code="CANNOT_EVICT_SELF",
                details={"node_id": node_id},
            )
        cluster_id = membership.cluster_id
        assert cluster_id is not None  # a member other than this node exists
        admitted = admitted_by(membership.standings, node_id)
        also = [n for n in admitted if n != membership.node_id] if evict_admitted else []
        victims = [node_id, *also]
        now = membership.now_ms()
        evictions = [
            records.evict(
                self.ctx.identity,
                cluster_id,
                victim,
                membership.members[victim].public_key,
                # Whom each victim admitted and is not evicted with it stays a member.
                [n for n in admitted_by(membership.standings, victim) if n not in victims],
                now,
            )
            for victim in victims
        ]
        gone = [membership.members[v] for v in victims]
        await membership.add(evictions)
        await self.heartbeats.broadcast(extra=gone)
        for victim in gone:
            await self.peers.forget(victim.node_id)
        return EvictResult(
            node_id=node_id,
            evicted=True,
            admitted=[_brief(membership.members.get(n), n) for n in admitted],
            also_evicted=also,
        )


def _brief(member: Member | None, node_id: str) -> AdmittedNode:
    return AdmittedNode(
        node_id=node_id,
        name=member.name if member else "",
        status=member.status if member else "unknown",
    )


def _answer(response: httpx.Response) -> dict[str, Any]:
    return peer_answer(response.content) or {}


def _bad_answer(reason: str) -> ApiError:
    return ApiError(
        f"the issuer's answer was refused: {reason}", code="BAD_JOIN_ANSWER", status=502
    )
