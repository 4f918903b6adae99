"""PeerClient: signed HTTPS requests to other members, each pinned to its own certificate.

One keep-alive connection pool per member. A member may have several addresses; the first
that answers is remembered until it fails. Responses may be streamed (`stream`), which later
subsystems use to relay logs, file chunks and tokens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from agent.peer.identity import Identity
from agent.peer.signing import EMPTY_DIGEST, sign_headers
from agent.peer.tls import pinned_context


@dataclass(frozen=True)
class PeerTarget:
    node_id: str
    addresses: tuple[str, ...]
    peer_port: int
    cert_pem: str


class PeerUnreachable(Exception):
    """No address of the member answered."""


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


class PeerClient:
    def __init__(self, identity: Identity, timeout: float = 5.0) -> None:
        self.identity = identity
        self.timeout = timeout
        self._clients: dict[str, tuple[str, httpx.AsyncClient]] = {}
        self._preferred: dict[str, str] = {}

    async def _client(self, target: PeerTarget) -> httpx.AsyncClient:
        cached = self._clients.get(target.node_id)
        if cached is not None and cached[0] == target.cert_pem:
            return cached[1]
        client = httpx.AsyncClient(
            verify=pinned_context(target.cert_pem),
            timeout=self.timeout,
            limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=30),
        )
        self._clients[target.node_id] = (target.cert_pem, client)
        if cached is not None:
            # The member's certificate changed: retire the pool pinned to the old one. The new
            # pool is cached first, so requests made meanwhile do not retire it too; shielded,
            # so a cancelled caller still closes it.
            with anyio.CancelScope(shield=True):
                await cached[1].aclose()
        return client

    def _addresses(self, target: PeerTarget) -> list[str]:
        preferred = self._preferred.get(target.node_id)
        ordered = [preferred] if preferred in target.addresses else []
        return [*ordered, *(a for a in target.addresses if a != preferred)]

    def _sign(self, target: PeerTarget, method: str, path: str, digest: str) -> dict[str, str]:
        # Naming the receiver keeps a request signed for one member from running on another.
        return sign_headers(
            self.identity.sign, self.identity.node_id, method, path, digest, receiver=target.node_id
        )

    def _prepare(
        self, target: PeerTarget, method: str, path: str, json_body: Any
    ) -> tuple[bytes | None, dict[str, str]]:
        body = None if json_body is None else json.dumps(json_body).encode()
        digest = hashlib.sha256(body).hexdigest() if body else EMPTY_DIGEST
        headers = self._sign(target, method, path, digest)
        if body is not None:
            headers["content-type"] = "application/json"
        return body, headers

    @staticmethod
    def _url(target: PeerTarget, address: str, path: str) -> str:
        return f"https://{_url_host(address)}:{target.peer_port}{path}"

    async def request(
        self,
        target: PeerTarget,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        client = await self._client(target)
        last_error: Exception | None = None
        for address in self._addresses(target):
            # Signed afresh per attempt: a nonce must never be sent twice.
            body, headers = self._prepare(target, method, path, json_body)
            try:
                response = await client.request(
                    method,
                    self._url(target, address, path),
                    content=body,
                    headers=headers,
                    timeout=timeout if timeout is not None else self.timeout,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last_error = exc
                continue
            except httpx.TransportError as exc:
                raise PeerUnreachable(f"{target.node_id}: {exc}") from exc
            self._preferred[target.node_id] = address
            return response
        raise PeerUnreachable(f"no address of {target.node_id} answered: {last_error}")

    @asynccontextmanager
    async def stream(
        self,
        target: PeerTarget,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: AsyncIterable[bytes] | None = None,
        content_sha256: str | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A request whose response body is read incrementally by the caller; it goes to the
        address that last answered. A streamed request body (`content`) must come with its
        SHA-256 known in advance (`content_sha256`), which the receiver checks as it reads."""
        if content is not None:
            if content_sha256 is None or json_body is not None:
                raise ValueError("a streamed body needs content_sha256 and no json_body")
            headers = self._sign(target, method, path, content_sha256)
            body: bytes | AsyncIterable[bytes] | None = content
        else:
            body, headers = self._prepare(target, method, path, json_body)
        addresses = self._addresses(target)
        if not addresses:
            raise PeerUnreachable(f"{target.node_id} has no known address")
        url = self._url(target, addresses[0], path)
        client = await self._client(target)
        try:
            async with client.stream(
                method, url, content=body, headers=headers, timeout=timeout
            ) as response:
                yield response
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise PeerUnreachable(f"{target.node_id}: {exc}") from exc

    async def forget(self, node_id: str) -> None:
        cached = self._clients.pop(node_id, None)
        self._preferred.pop(node_id, None)
        if cached is not None:
            await cached[1].aclose()

    async def close(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
