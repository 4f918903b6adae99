"""Signing and checking membership records and node entries.

A signature covers `DOMAIN + sorted-key compact JSON of the body`, so a membership signature
can never be confused with a peer request signature (which has its own prefix) or with any
other use of the node key. Every body names its signer's key (`by_key`, or `public_key` for
a node entry), and every check requires `node_id_for(key) == id` for the signer and for the
subject, so a record is verifiable on its own and a node id can only ever carry one key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from agent.cluster.models import Admit, Evict, Found, Leave, NodeBody, SignedNode, SignedRecord
from agent.peer.identity import Identity, fingerprint_of, node_id_for
from agent.peer.signing import public_key_from_b64

DOMAIN = b"OPENFABRIC-MEMBERSHIP-1\n"
CLUSTER_DOMAIN = b"OPENFABRIC-CLUSTER-1\n"
Body = Found | Admit | Evict | Leave


def canonical(body: dict[str, Any]) -> bytes:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return DOMAIN + text.encode()


def cluster_id_for(public_key: str, salt: str) -> str:
    """128 bits bound to the founder's key: nobody else can make a founding record for it."""
    digest = hashlib.sha256(CLUSTER_DOMAIN + public_key.encode() + b"\n" + salt.encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Record:
    id: str
    body: Body
    signature: str

    def wire(self) -> dict[str, Any]:
        return {"body": self.body.model_dump(), "signature": self.signature}


@dataclass(frozen=True)
class Node:
    body: NodeBody
    signature: str

    @property
    def node_id(self) -> str:
        return self.body.node_id

    def wire(self) -> dict[str, Any]:
        return {"body": self.body.model_dump(), "signature": self.signature}

    def beats(self, other: Node) -> bool:
        """Highest seq wins; the signature breaks a tie so every member picks the same."""
        return (self.body.seq, self.signature) > (other.body.seq, other.signature)


def record_id(body: Body) -> str:
    return hashlib.sha256(canonical(body.model_dump())).hexdigest()


def _sign(identity: Identity, body: dict[str, Any]) -> str:
    return base64.b64encode(identity.sign(canonical(body))).decode()


def _signed_by(key_b64: str, signature: str, body: dict[str, Any]) -> bool:
    try:
        public_key_from_b64(key_b64).verify(base64.b64decode(signature), canonical(body))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _owns(key_b64: str, node_id: str) -> bool:
    try:
        return node_id_for(public_key_from_b64(key_b64)) == node_id
    except (ValueError, binascii.Error):
        return False


def check_record(signed: SignedRecord) -> Record | None:
    """The record if its ids belong to its keys and its signer signed it; else None."""
    body = signed.body
    if not (_owns(body.by_key, body.by) and _owns(body.public_key, body.node_id)):
        return None
    self_signed = isinstance(body, Found | Leave)
    if self_signed != (body.by == body.node_id):
        # Founding and leaving are a node's own acts; admitting or evicting is another's.
        return None
    if isinstance(body, Found) and cluster_id_for(body.public_key, body.salt) != body.cluster_id:
        return None
    if not _signed_by(body.by_key, signed.signature, body.model_dump()):
        return None
    return Record(record_id(body), body, signed.signature)


def check_node(signed: SignedNode) -> Node | None:
    body = signed.body
    if not _owns(body.public_key, body.node_id):
        return None
    try:
        if fingerprint_of(body.cert_pem.encode()) != body.fingerprint:
            return None
    except ValueError:
        return None
    if not _signed_by(body.public_key, signed.signature, body.model_dump()):
        return None
    return Node(body, signed.signature)


def sign_node(identity: Identity, body: NodeBody) -> Node:
    return Node(body, _sign(identity, body.model_dump()))


def _signed_record(identity: Identity, body: Body) -> Record:
    return Record(record_id(body), body, _sign(identity, body.model_dump()))


def _common(identity: Identity, cluster_id: str, at_ms: int) -> dict[str, Any]:
    return {
        "cluster_id": cluster_id,
        "by": identity.node_id,
        "by_key": identity.public_key_b64,
        "at": at_ms,
    }


def found(identity: Identity, at_ms: int) -> Record:
    salt = secrets.token_hex(16)
    cluster_id = cluster_id_for(identity.public_key_b64, salt)
    body = Found(
        kind="found",
        node_id=identity.node_id,
        public_key=identity.public_key_b64,
        salt=salt,
        **_common(identity, cluster_id, at_ms),
    )
    return _signed_record(identity, body)


def admit(
    identity: Identity, cluster_id: str, node_id: str, public_key: str, token_id: str, at_ms: int
) -> Record:
    body = Admit(
        kind="admit",
        node_id=node_id,
        public_key=public_key,
        token_id=token_id,
        **_common(identity, cluster_id, at_ms),
    )
    return _signed_record(identity, body)


def evict(
    identity: Identity,
    cluster_id: str,
    node_id: str,
    public_key: str,
    kept: list[str],
    at_ms: int,
) -> Record:
    body = Evict(
        kind="evict",
        node_id=node_id,
        public_key=public_key,
        kept=sorted(kept),
        **_common(identity, cluster_id, at_ms),
    )
    return _signed_record(identity, body)


def leave(identity: Identity, cluster_id: str, ends: list[str], at_ms: int) -> Record:
    body = Leave(
        kind="leave",
        node_id=identity.node_id,
        public_key=identity.public_key_b64,
        ends=sorted(ends),
        **_common(identity, cluster_id, at_ms),
    )
    return _signed_record(identity, body)
