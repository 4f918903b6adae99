"""A flow's replicated record and a trigger's cursor, each signed by the node that wrote it.

A record is one version of a flow (a delete is a version too: a tombstone, `deleted`), signed
by its `author`; members keep the greatest (version, updated_at, author). A cursor says when a
cron/interval trigger last fired anywhere; members keep the latest `fired_at`.

The signature covers the canonical JSON (sorted keys, compact, ASCII) of every other field.
Its text is base64 of the author's raw Ed25519 public key (32 bytes) followed by the signature
(64 bytes): a node id is derived from its public key, so any member can check that the key is
the author's and that the author signed, without asking membership for keys. Whether the
author is a current member is the receiver's to check (see replication).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field

from agent.core.wire import StrictModel
from agent.flows.definition import MAX_TRIGGERS
from agent.flows.models import FLOW_ID_PATTERN, SourceFormat
from agent.peer.identity import Identity, node_id_for

MAX_SOURCE_BYTES = 256 * 1024
MAX_VERSION = 2**53 - 1
RECORD_FUTURE_S = 300.0
CURSOR_FUTURE_S = 60.0
NODE_ID_PATTERN = r"^[a-z2-7]{1,64}$"
_KEY_BYTES, _SIGNATURE_BYTES = 32, 64
MAX_SIGNATURE_CHARS = 4 * (_KEY_BYTES + _SIGNATURE_BYTES) // 3
_FLOW_ID = re.compile(FLOW_ID_PATTERN)
_NODE_ID = re.compile(NODE_ID_PATTERN)

NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN)]
WireFlowId = Annotated[str, Field(pattern=FLOW_ID_PATTERN)]
Signature = Annotated[str, Field(min_length=1, max_length=MAX_SIGNATURE_CHARS)]
Time = Annotated[float, Field(ge=0)]


class RecordRefused(ValueError):
    """A record or cursor that must not be merged; str(e) says why."""


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class FlowRecord:
    flow_id: str
    version: int
    author: str
    updated_at: float
    deleted: bool
    enabled: bool
    format: SourceFormat
    source: str
    signature: str

    def signed_bytes(self) -> bytes:
        fields = asdict(self)
        del fields["signature"]
        fields["updated_at"] = float(self.updated_at)
        return canonical(fields)

    @property
    def order(self) -> tuple[int, float, str]:
        return (self.version, self.updated_at, self.author)

    def newer_than(self, other: FlowRecord | None) -> bool:
        return other is None or self.order > other.order

    def as_wire(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Cursor:
    flow_id: str
    trigger_index: int
    fired_at: float
    node_id: str
    signature: str

    def signed_bytes(self) -> bytes:
        fields = asdict(self)
        del fields["signature"]
        fields["fired_at"] = float(self.fired_at)
        return canonical(fields)

    @property
    def key(self) -> tuple[str, int]:
        return (self.flow_id, self.trigger_index)

    def newer_than(self, other: Cursor | None) -> bool:
        return other is None or (self.fired_at, self.node_id) > (other.fired_at, other.node_id)

    def as_wire(self) -> dict[str, Any]:
        return asdict(self)


class RecordWire(StrictModel):
    flow_id: WireFlowId
    version: Annotated[int, Field(ge=1, le=MAX_VERSION)]
    author: NodeId
    updated_at: Time
    deleted: bool
    enabled: bool
    format: SourceFormat
    source: Annotated[str, Field(max_length=MAX_SOURCE_BYTES)]
    signature: Signature

    def record(self) -> FlowRecord:
        fields = self.model_dump()
        fields["updated_at"] = float(self.updated_at)
        return FlowRecord(**fields)


class CursorWire(StrictModel):
    flow_id: WireFlowId
    trigger_index: Annotated[int, Field(ge=0, lt=MAX_TRIGGERS)]
    fired_at: Time
    node_id: NodeId
    signature: Signature

    def cursor(self) -> Cursor:
        fields = self.model_dump()
        fields["fired_at"] = float(self.fired_at)
        return Cursor(**fields)


def _sign(identity: Identity, message: bytes) -> str:
    key = base64.b64decode(identity.public_key_b64)
    return base64.b64encode(key + identity.sign(message)).decode()


def sign_record(
    identity: Identity,
    *,
    flow_id: str,
    version: int,
    updated_at: float,
    deleted: bool,
    enabled: bool,
    format: SourceFormat,
    source: str,
    author: str | None = None,
) -> FlowRecord:
    """A record authored by this node (a node signs for no other: `author`, when given, must
    be this node's id)."""
    if author is not None and author != identity.node_id:
        raise ValueError("a node signs only records it authors")
    unsigned = FlowRecord(
        flow_id=flow_id,
        version=version,
        author=identity.node_id,
        updated_at=float(updated_at),
        deleted=deleted,
        enabled=enabled,
        format=format,
        source=source,
        signature="",
    )
    return _with_signature(unsigned, _sign(identity, unsigned.signed_bytes()))


def sign_cursor(identity: Identity, *, flow_id: str, trigger_index: int, fired_at: float) -> Cursor:
    unsigned = Cursor(flow_id, trigger_index, float(fired_at), identity.node_id, "")
    return Cursor(
        flow_id,
        trigger_index,
        float(fired_at),
        identity.node_id,
        _sign(identity, unsigned.signed_bytes()),
    )


def _with_signature(record: FlowRecord, signature: str) -> FlowRecord:
    fields = asdict(record)
    fields["signature"] = signature
    return FlowRecord(**fields)


def signed_by(signer: str, signature: str, message: bytes) -> bool:
    """Whether `signature` (see the module docstring) is `signer`'s, over `message`."""
    if len(signature) > MAX_SIGNATURE_CHARS:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    if len(raw) != _KEY_BYTES + _SIGNATURE_BYTES:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(raw[:_KEY_BYTES])
        if node_id_for(key) != signer:
            return False
        key.verify(raw[_KEY_BYTES:], message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _check_time(what: str, at: float, now: float, ahead: float) -> None:
    if not (math.isfinite(at) and 0 <= at <= now + ahead):
        raise RecordRefused(f"{what} is not a time up to {ahead:g} s from now")


def check_record(record: FlowRecord, now: float) -> None:
    """Bounds and signature of a record, or RecordRefused."""
    if not _FLOW_ID.fullmatch(record.flow_id):
        raise RecordRefused("flow_id is not a flow id")
    if not _NODE_ID.fullmatch(record.author):
        raise RecordRefused("author is not a node id")
    if isinstance(record.version, bool) or not 1 <= record.version <= MAX_VERSION:
        raise RecordRefused(f"version is not between 1 and {MAX_VERSION}")
    if record.format not in ("yaml", "json"):
        raise RecordRefused("format is neither yaml nor json")
    if len(record.source.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise RecordRefused(f"source is larger than {MAX_SOURCE_BYTES} bytes")
    _check_time("updated_at", record.updated_at, now, RECORD_FUTURE_S)
    if not signed_by(record.author, record.signature, record.signed_bytes()):
        raise RecordRefused(f"the signature is not its author's ({record.author})")


def check_cursor(cursor: Cursor, now: float) -> None:
    if not _FLOW_ID.fullmatch(cursor.flow_id):
        raise RecordRefused("flow_id is not a flow id")
    if not _NODE_ID.fullmatch(cursor.node_id):
        raise RecordRefused("node_id is not a node id")
    if isinstance(cursor.trigger_index, bool) or not 0 <= cursor.trigger_index < MAX_TRIGGERS:
        raise RecordRefused(f"trigger_index is not between 0 and {MAX_TRIGGERS - 1}")
    _check_time("fired_at", cursor.fired_at, now, CURSOR_FUTURE_S)
    if not signed_by(cursor.node_id, cursor.signature, cursor.signed_bytes()):
        raise RecordRefused(f"the signature is not its node's ({cursor.node_id})")
