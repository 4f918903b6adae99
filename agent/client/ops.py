"""The agent's own state: status, health, metrics, the OpenAPI document and the event
stream, mixed into `AgentClient`."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from agent.client.errors import ApiError
from agent.client.events import StreamEvent
from agent.client.transport import Transport
from agent.cluster.models import ClusterStatus
from agent.ops.models import (
    HealthAnswer,
    HealthProbe,
    HealthReport,
    MetricFamily,
    MetricsReport,
    OpenApiDocument,
)


class OpsMixin(Transport):
    async def status(self) -> ClusterStatus:
        return await self._get_model("/api/status", ClusterStatus)

    async def health(self) -> HealthReport | HealthProbe:
        """The health report; returned (not raised) when the agent answers 503 unhealthy.

        Without a token the agent answers only a `HealthProbe` (`ok` or `unhealthy`)."""
        response = await self._request("GET", "/api/health", ok=503)
        body = self._json(response)
        if response.status_code == 503 and not (isinstance(body, dict) and "status" in body):
            raise ApiError.from_response(response)
        return self._model(response, HealthAnswer).root

    async def metrics(self) -> list[MetricFamily]:
        return (await self._get_model("/api/metrics", MetricsReport)).metrics

    async def metrics_text(self) -> str:
        """The Prometheus text exposition."""
        response = await self._request("GET", "/api/metrics", params={"format": "prometheus"})
        return response.text

    async def openapi(self) -> OpenApiDocument:
        return await self._get_model("/api/openapi.json", OpenApiDocument)

    async def events(
        self, topics: list[str] | None = None, last_event_id: int | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Follow `/api/events` until the agent ends the stream (or the caller stops).

        `topics` are topic names or prefixes; none means every topic. `last_event_id` replays
        what the agent still holds after that sequence number first. A caller that stops early
        should close the iterator (`contextlib.aclosing`) so the connection is released at once.
        """
        params = {"topics": ",".join(topics)} if topics else {}
        stream = self._stream(
            "GET", "/api/events", "event stream", params=params, last_event_id=last_event_id
        )
        async with aclosing(stream):
            async for event in stream:
                yield event
