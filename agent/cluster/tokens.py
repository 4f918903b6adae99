"""Join tokens: `ofj1.<base64url JSON>`, one string to paste on the joining device.

The payload carries what the joiner needs to reach and trust the issuer (addresses, peer
port, certificate fingerprint), the cluster it invites into (the issuer refuses a token whose
cluster is not its current one, and the joiner refuses an answer for another cluster), and
what proves the invitation (token id + a 160-bit secret).
The issuer keeps only the secret's SHA-256, so a leaked database does not leak live tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from agent.core.errors import BadRequest

PREFIX = "ofj1."
MAX_TOKEN_LENGTH = 4096
_CLUSTER_ID = re.compile(r"[0-9a-f]{32}")
_TOKEN_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class JoinToken:
    cluster_id: str
    issuer: str
    addresses: tuple[str, ...]
    peer_port: int
    fingerprint: str
    token_id: str
    secret: str
    expires_at: float

    def encode(self) -> str:
        payload = {
            "c": self.cluster_id,
            "i": self.issuer,
            "a": list(self.addresses),
            "p": self.peer_port,
            "f": self.fingerprint,
            "t": self.token_id,
            "s": self.secret,
            "x": round(self.expires_at, 3),
        }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @property
    def secret_sha256(self) -> str:
        return hash_secret(self.secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(
    *,
    cluster_id: str,
    issuer: str,
    addresses: tuple[str, ...],
    peer_port: int,
    fingerprint: str,
    now: float,
    ttl: float,
) -> JoinToken:
    return JoinToken(
        cluster_id=cluster_id,
        issuer=issuer,
        addresses=addresses,
        peer_port=peer_port,
        fingerprint=fingerprint,
        token_id=secrets.token_hex(8),
        secret=secrets.token_urlsafe(20),
        expires_at=now + ttl,
    )


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"not a valid join token: {reason}", code="INVALID_TOKEN")


def decode(text: str) -> JoinToken:
    """Parse a token; malformed input raises 400 INVALID_TOKEN (expiry is checked by callers)."""
    text = text.strip()
    if len(text) > MAX_TOKEN_LENGTH:
        raise _invalid("too long")
    if not text.startswith(PREFIX):
        raise _invalid(f"it should start with {PREFIX!r}")
    body = text[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        data: Any = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid("it is not encoded correctly (was it copied whole?)") from None
    if not isinstance(data, dict):
        raise _invalid("unexpected content")
    try:
        token = JoinToken(
            cluster_id=_text(data["c"]),
            issuer=_text(data["i"]),
            addresses=tuple(_text(a) for a in data["a"]),
            peer_port=int(data["p"]),
            fingerprint=_text(data["f"]).lower(),
            token_id=_text(data["t"]),
            secret=_text(data["s"]),
            expires_at=float(data["x"]),
        )
    except (KeyError, TypeError, ValueError):
        raise _invalid("fields are missing or of the wrong type") from None
    if not token.addresses or not 0 < token.peer_port < 65536 or len(token.fingerprint) != 64:
        raise _invalid("issuer address, port or fingerprint is malformed")
    if not (_CLUSTER_ID.fullmatch(token.cluster_id) and _TOKEN_ID.fullmatch(token.token_id)):
        # A token from before cluster ids were bound to their founder is void anyway.
        raise _invalid("cluster id or token id is malformed")
    return token


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 512:
        raise ValueError("expected a non-empty string")
    return value
