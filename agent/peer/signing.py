"""Signed peer requests.

Every request between members carries these headers:

    X-Fabric-Node            the caller's node_id
    X-Fabric-Receiver        the node_id the request is meant for
    X-Fabric-Timestamp       unix seconds, digits with up to 6 decimals
    X-Fabric-Nonce           >= 128 random bits, hex
    X-Fabric-Content-SHA256  hex SHA-256 of the body (of b"" when there is none)
    X-Fabric-Signature       base64 Ed25519 signature of `canonical(...)`

The receiver rejects a request that is unsigned or malformed (401 UNSIGNED_REQUEST), meant
for another node (401 WRONG_RECEIVER), outside ±`SKEW` seconds of its clock or signed before
this process started (401 STALE_REQUEST), reuses a nonce it has seen (401 REPLAYED_REQUEST,
see `replay` for how that survives restarts), comes from a node that is not a member (403
UNKNOWN_NODE) or was evicted (403 NODE_EVICTED), or whose signature does not verify (401
BAD_SIGNATURE). The body digest is checked as the body is read, so streamed bodies work; a
mismatch fails the request (400 BODY_DIGEST_MISMATCH) before a handler can act on a complete
body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.core.errors import Forbidden, ServiceUnavailable, Unauthorized
from agent.peer.replay import SKEW, NonceCache

__all__ = ["SKEW", "NonceCache", "canonical", "parse_timestamp", "sign_headers", "verify"]

NODE, RECEIVER, TIMESTAMP, NONCE, DIGEST, SIGNATURE = (
    "x-fabric-node",
    "x-fabric-receiver",
    "x-fabric-timestamp",
    "x-fabric-nonce",
    "x-fabric-content-sha256",
    "x-fabric-signature",
)
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()
# Plain decimal only: float() alone also takes "nan", "inf", "1e999", " 12" and "1_0", and a
# NaN compares false with everything, so it passed the window check.
_TIMESTAMP = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")
_HEX = re.compile(r"[0-9a-f]+")
_NODE_ID = re.compile(r"[a-z2-7]{1,64}")


def canonical(
    method: str, target: str, timestamp: str, nonce: str, digest: str, node: str, receiver: str
) -> bytes:
    return "\n".join(
        ["OPENFABRIC-PEER-2", method.upper(), target, timestamp, nonce, digest, node, receiver]
    ).encode()


def sign_headers(
    sign: Callable[[bytes], bytes],
    node_id: str,
    method: str,
    target: str,
    digest: str,
    *,
    receiver: str,
) -> dict[str, str]:
    """Headers for one request to `receiver`; `sign` is the node key's sign(bytes) -> bytes."""
    timestamp = f"{time.time():.3f}"
    nonce = secrets.token_hex(16)
    message = canonical(method, target, timestamp, nonce, digest, node_id, receiver)
    return {
        NODE: node_id,
        RECEIVER: receiver,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        DIGEST: digest,
        SIGNATURE: base64.b64encode(sign(message)).decode(),
    }


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def parse_timestamp(text: str) -> float | None:
    """The signed time as a finite float, or None unless `text` is plain decimal seconds."""
    if not _TIMESTAMP.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


KeyLookup = Callable[[str], "tuple[str, str] | None"]


def _unsigned(message: str) -> Unauthorized:
    return Unauthorized(message, code="UNSIGNED_REQUEST")


def _well_formed(node: str, receiver: str, nonce: str, digest: str, signature: str) -> bool:
    return bool(
        _NODE_ID.fullmatch(node)
        and _NODE_ID.fullmatch(receiver)
        and 32 <= len(nonce) <= 128
        and _HEX.fullmatch(nonce)
        and len(digest) == 64
        and _HEX.fullmatch(digest)
        and len(signature) <= 128
    )


def _check_time(sent_at: float, now: float, nonces: NonceCache) -> None:
    if abs(now - sent_at) > SKEW:
        raise Unauthorized(
            f"peer request timestamp is {now - sent_at:+.0f}s off; clocks must agree within "
            f"{SKEW:.0f}s",
            code="STALE_REQUEST",
        )
    if sent_at < nonces.started_at:
        # What the previous process accepted was signed before this one started; refusing
        # those needs no state that a crash could lose. A caller signs afresh and retries.
        raise Unauthorized(
            "peer request was signed before this node started; sign it again",
            code="STALE_REQUEST",
        )


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

    `key_of(node_id)` answers (public key b64, status) or None for a stranger; the request
    must be addressed to `nonces.receiver`.
    """
    node, receiver, stamp, nonce, digest, signature = (
        headers.get(h) for h in (NODE, RECEIVER, TIMESTAMP, NONCE, DIGEST, SIGNATURE)
    )
    if not (node and receiver and stamp and nonce and digest and signature):
        raise _unsigned("peer request is not signed")
    sent_at = parse_timestamp(stamp)
    if sent_at is None or not _well_formed(node, receiver, nonce, digest, signature):
        raise _unsigned("peer request signature headers are malformed")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        raise _unsigned("peer request signature headers are malformed") from None
    if receiver != nonces.receiver:
        raise Unauthorized(
            f"peer request is addressed to node {receiver}, not to this node",
            code="WRONG_RECEIVER",
        )
    now = time.time() if now is None else now
    _check_time(sent_at, now, nonces)
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
            raw_signature, canonical(method, target, stamp, nonce, digest, node, receiver)
        )
    except (InvalidSignature, ValueError, binascii.Error):
        raise Unauthorized("peer request signature does not verify", code="BAD_SIGNATURE") from None
    try:
        fresh = nonces.check_and_add(f"{node}:{nonce}", now, sent_at)
    except OSError:
        raise ServiceUnavailable(
            "this node cannot record the request's nonce", code="REPLAY_JOURNAL_UNAVAILABLE"
        ) from None
    if not fresh:
        raise Unauthorized("peer request was already received (replay)", code="REPLAYED_REQUEST")
    return node, digest
