"""Topics the cluster subsystem publishes; each carries the member as this node sees it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agent.core.events import Topic
from agent.core.wire import Answer


class NodeChange(Answer):
    """A member whose standing or liveness changed, as this node sees it now."""

    node_id: str
    name: str
    status: Literal["member", "left", "evicted"] = Field(description="Its standing now")
    state: Literal["online", "suspect", "offline"] = Field(description="Its liveness now")
    addresses: list[str]
    self: bool = Field(description="True when the event is about the node that publishes it")
    at: float = Field(description="Unix time this node saw the change")


class MemberSample(Answer):
    """A member's newest telemetry sample, as its heartbeat brought it (passed on as it came)."""

    node_id: str
    name: str
    last_seen: float = Field(description="Unix time this node last heard from it")
    telemetry: dict[str, Any] = Field(description="Its sample, in the shape of `node.telemetry`")


def _topic(name: str, summary: str) -> Topic[NodeChange]:
    return Topic(name, NodeChange, summary)


NODE_JOINED = _topic(
    "node.joined", "A node became a member (published on every member, the joiner included)."
)
NODE_ONLINE = _topic(
    "node.online",
    "A member was heard from for the first time, or again after being suspect or offline.",
)
NODE_SUSPECT = _topic("node.suspect", "A member has been silent for `suspect_after` seconds.")
NODE_OFFLINE = _topic("node.offline", "A member has been silent for `offline_after` seconds.")
NODE_LEFT = _topic(
    "node.left",
    "A member left the cluster on its own (on the leaver too, with `self` true: it is then alone).",
)
NODE_EVICTED = _topic(
    "node.evicted",
    "A member was evicted (on the evicted node too, with `self` true: it is then alone).",
)

NODE_HEARTBEAT = Topic(
    "node.heartbeat",
    MemberSample,
    "Another member's heartbeat brought a new telemetry sample (once per sample; this node's "
    "own samples are `node.telemetry`).",
    replay=False,
)

TOPICS: tuple[Topic[Any], ...] = (
    NODE_JOINED,
    NODE_ONLINE,
    NODE_SUSPECT,
    NODE_OFFLINE,
    NODE_LEFT,
    NODE_EVICTED,
    NODE_HEARTBEAT,
)
