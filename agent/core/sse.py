"""`GET /api/events`: the bus as one multiplexed Server-Sent Events stream.

Each event goes out as `event: <topic>`, `id: <seq>`, `data: <json>`. Resuming works with the
standard `Last-Event-ID` header (what browsers send on reconnect) or `?last_event_id=` for a
first connection. Keep-alive comments go out every `sse_keepalive` seconds. The stream ends
when the bus closes (agent shutdown) or the client goes away.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.routing import Route

from agent.core.bus import EventBus, Subscription
from agent.core.errors import BadRequest
from agent.core.http import QueryParam, api_route, parse_query


class EventsQuery(BaseModel):
    topics: str = ""
    last_event_id: int | None = None


def encode(event_topic: str, seq: int, data: object) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, separators=(",", ":")), event=event_topic, id=str(seq)
    )


async def _stream(bus: EventBus, sub: Subscription) -> AsyncIterator[ServerSentEvent]:
    try:
        async for event in sub:
            yield encode(event.topic, event.seq, event.data)
    finally:
        bus.unsubscribe(sub)


def sse_response(request: Request, stream: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    keepalive: float = request.app.state.settings.sse_keepalive
    return EventSourceResponse(stream, ping=keepalive, headers={"Cache-Control": "no-store"})


def _last_event_id(request: Request, query: EventsQuery) -> int | None:
    header = request.headers.get("last-event-id")
    if header is None or not header.strip():
        return query.last_event_id
    try:
        return int(header.strip())
    except ValueError:
        raise BadRequest(
            f"Last-Event-ID must be an event sequence number, got {header!r}"
        ) from None


async def events(request: Request) -> EventSourceResponse:
    query = parse_query(request, EventsQuery)
    bus: EventBus = request.app.state.bus
    topics = [t.strip() for t in query.topics.split(",") if t.strip()]
    sub = bus.subscribe(topics, _last_event_id(request, query))
    return sse_response(request, _stream(bus, sub))


def routes() -> list[Route]:
    return [
        api_route(
            "/api/events",
            events,
            methods=["GET"],
            tag="events",
            streams=True,
            summary="Live event stream (SSE) of the topics asked for, with Last-Event-ID replay.",
            query=[
                QueryParam("topics", description="Comma-separated topics or prefixes (node, task)"),
                QueryParam("last_event_id", "integer", "Resume after this event id"),
            ],
        )
    ]
