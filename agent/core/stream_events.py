"""The markers the event stream itself publishes around a replay (see `core.bus`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent.core.events import Topic
from agent.core.wire import Answer


class StreamGap(Answer):
    """Events a resuming subscriber asked for but will not get."""

    after: int = Field(description="The Last-Event-ID it resumed after")
    resumed_at: int = Field(description="The id of the first event it gets next")
    missed: int = Field(description="Events it will not get: older than the ring, or skipped")
    skipped: int = Field(description="Of those, the ones beyond what one replay may hold")


class StreamReplayed(Answer):
    """The end of a replay: what follows is live."""

    last_event_id: int = Field(description="The id of the last replayed event")


STREAM_GAP: Topic[StreamGap] = Topic(
    "stream.gap",
    StreamGap,
    "Sent first on a resumed stream when events it asked for were lost (older than the "
    "replay ring) or left out (more than one replay may hold).",
)
STREAM_REPLAYED: Topic[StreamReplayed] = Topic(
    "stream.replayed",
    StreamReplayed,
    "Sent on a resumed stream after the replayed events: from here on, events are live.",
)

TOPICS: tuple[Topic[Any], ...] = (STREAM_GAP, STREAM_REPLAYED)
