"""Signed peer requests.

Every request between members carries these headers:

    X-Fabric-Node            the caller's node_id
    X-Fabric-Timestamp       unix seconds (float)
    X-Fabric-Nonce           >= 128 random bits, hex
    X-Fabric-Content-SHA256  hex SHA-256 of the body (of b"" when there is none)
    X-Fabric-Signature       base64 Ed25519 signature of `canonical(...)`

The receiver rejects a request that is unsigned or malformed (401 UNSIGNED_REQUEST), outside
±`SKEW` seconds of its clock (401 STALE_REQUEST), reuses a nonce it has seen (401
REPLAYED_REQUEST), comes from a node that is not a member (403 UNKNOWN_NODE) or was evicted
(403 NODE_EVICTED), or whose signature does not verify (401 BAD_SIGNATURE). The body digest is
checked as the body is read, so streamed bodies work; a mismatch fails the request
(400 BODY_DIGEST_MISMATCH) before a handler can act on a complete body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.core.errors import Forbidden, Unauthorized

SKEW = 60.0
NODE, TIMESTAMP, NONCE, DIGEST, SIGNATURE = (
    "x-fabric-node",
    "x-fabric-timestamp",
    "x-fabric-nonce",
    "x-fabric-content-sha256",
    "x-fabric-signature",
)
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()


def canonical(
    method: str, target: str, timestamp: str, nonce: str, digest: str, node: str
) -> bytes:
    return "\n".join(
        ["OPENFABRIC-PEER-1", method.upper(), target, timestamp, nonce, digest, node]
    ).encode()


def sign_headers(
    sign: Callable[[bytes], bytes], node_id: str, method: str, target: str, digest: str
) -> dict[str, str]:
    """Headers for one request; `sign` is the node key's sign(bytes) -> bytes."""
    timestamp = f"{time.time():.3f}"
    nonce = secrets.token_hex(16)
    signature = sign(canonical(method, target, timestamp, nonce, digest, node_id))
    return {
        NODE: node_id,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        DIGEST: digest,
        SIGNATURE: base64.b64encode(signature).decode(),
    }


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


KeyLookup = Callable[[str], "tuple[str, str] | None"]


def _unsigned(message: str) -> Unauthorized:
    return Unauthorized(message, code="UNSIGNED_REQUEST")


class NonceCache:
    """Nonces seen within the acceptance window; older ones fall out (their timestamp would
    be refused anyway)."""

    def __init__(self, window: float = 2 * SKEW, limit: int = 200_000) -> None:
        self.window = window
        self.limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check_and_add(self, key: str, now: float) -> bool:
        """False when `key` was already seen."""
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.window and len(self._seen) < self.limit:
                break
            self._seen.pop(oldest_key)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def verify(
    headers: Mapping[str, str],
    method: str,
    target: str,
    *,
    key_of: KeyLookup,
    nonces: NonceCache,
    now: float | None = None,
) -> tuple[str, str]:
    """Check a request's signature headers; answers (node_id, declared body digest).

    `key_of(node_id)` answers (public key b64, status) or None for a stranger.
    """
    node, stamp, nonce, digest, signature = (
        headers.get(h) for h in (NODE, TIMESTAMP, NONCE, DIGEST, SIGNATURE)
    )
    if not (node and stamp and nonce and digest and signature):
        raise _unsigned("peer request is not signed")
    if len(nonce) < 32 or len(digest) != 64 or len(node) > 64:
        raise _unsigned("peer request signature headers are malformed")
    try:
        sent_at = float(stamp)
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        raise _unsigned("peer request signature headers are malformed") from None
    now = time.time() if now is None else now
    if abs(now - sent_at) > SKEW:
        raise Unauthorized(
            f"peer request timestamp is {now - sent_at:+.0f}s off; clocks must agree within "
            f"{SKEW:.0f}s",
            code="STALE_REQUEST",
        )
    known = key_of(node)
    if known is None:
        raise Forbidden(f"node {node} is not a member of this cluster", code="UNKNOWN_NODE")
    public_key_b64, status = known
    if status == "evicted":
        raise Forbidden(f"node {node} was evicted from this cluster", code="NODE_EVICTED")
    if status != "member":
        raise Forbidden(f"node {node} is no longer a member of this cluster", code="UNKNOWN_NODE")
    try:
        public_key_from_b64(public_key_b64).verify(
            raw_signature, canonical(method, target, stamp, nonce, digest, node)
        )
    except (InvalidSignature, ValueError, binascii.Error):
        raise Unauthorized("peer request signature does not verify", code="BAD_SIGNATURE") from None
    if not nonces.check_and_add(f"{node}:{nonce}", now):
        raise Unauthorized("peer request was already received (replay)", code="REPLAYED_REQUEST")
    return node, digest
