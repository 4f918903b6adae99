"""`GET /api/events`: the bus as one multiplexed Server-Sent Events stream.

Each event goes out as `event: <topic>`, `id: <seq>`, `data: <json>`. Resuming works with the
standard `Last-Event-ID` header (what browsers send on reconnect) or `?last_event_id=` for a
first connection. Keep-alive comments go out every `sse_keepalive` seconds. The stream ends
when the bus closes (agent shutdown) or the client goes away.

Frames come pre-encoded from the bus and go out in batches, with a checkpoint after each, so
a client with a long queue (a replay) writes in slices instead of holding the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.routing import Route

from agent.core.bus import EventBus, Subscription
from agent.core.http import QueryParam, api_route, bounded_int, parse_query


class EventsQuery(BaseModel):
    topics: str = ""
    last_event_id: int | None = None


# Frames per write: big enough to amortize a send, small enough to keep slices short.
BATCH = 64


async def _stream(bus: EventBus, sub: Subscription) -> AsyncIterator[bytes]:
    try:
        while batch := await sub.batch(BATCH):
            yield b"".join(event.frame for event in batch)
            # A send only yields when the socket is full; without this a replayed queue
            # would go out in one uninterrupted run while heartbeats and requests wait.
            await asyncio.sleep(0)
    finally:
        bus.unsubscribe(sub)


def sse_response(
    request: Request, stream: AsyncIterator[ServerSentEvent] | AsyncIterator[bytes]
) -> EventSourceResponse:
    keepalive: float = request.app.state.settings.sse_keepalive
    return EventSourceResponse(stream, ping=keepalive, headers={"Cache-Control": "no-store"})


def _last_event_id(request: Request, query: EventsQuery) -> int | None:
    header = request.headers.get("last-event-id")
    if header is None or not header.strip():
        return query.last_event_id
    return bounded_int(header, "Last-Event-ID")


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
