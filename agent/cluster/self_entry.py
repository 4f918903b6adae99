"""This node's own entry, signed with its key: what every member uses to reach and pin it."""

from __future__ import annotations

import socket
from typing import Any

from agent.cluster.models import MAX_ADDRESSES, MAX_SEQ, NodeBody
from agent.cluster.records import Node, sign_node
from agent.core.subsystem import Context
from agent.peer.addresses import local_addresses

# The facts that, when they change, make a new entry (seq and time do not count).
_FACTS = ("name", "fingerprint", "cert_pem", "addresses", "peer_port", "version", "public_key")


def describe_self(
    ctx: Context, previous: Node | None, now_ms: int, at_least: int = 0
) -> Node | None:
    """A freshly signed entry when the facts changed (or a copy of seq `at_least` exists);
    None when `previous` still describes this node."""
    identity, settings = ctx.identity, ctx.settings
    facts: dict[str, Any] = {
        "name": (settings.node_name or socket.gethostname())[:255],
        "fingerprint": identity.fingerprint,
        "cert_pem": identity.tls_cert_path.read_text(),
        "addresses": list(local_addresses(settings.advertise_address)[:MAX_ADDRESSES]),
        "peer_port": settings.peer_port,
        "version": ctx.version[:64],
        "public_key": identity.public_key_b64,
    }
    seq = previous.body.seq if previous else 0
    unchanged = previous is not None and all(
        getattr(previous.body, key) == value for key, value in facts.items()
    )
    if unchanged and at_least < seq:
        return None
    body = NodeBody(
        kind="node",
        node_id=identity.node_id,
        seq=min(MAX_SEQ, max(seq, at_least) + 1),
        at=now_ms,
        **facts,
    )
    return sign_node(identity, body)
