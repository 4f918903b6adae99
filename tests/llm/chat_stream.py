"""Reading a streamed chat answer in the tests: every SSE event as (event, data)."""

from __future__ import annotations

import json
from typing import Any

import httpx


async def sse(client: httpx.AsyncClient, body: dict[str, Any]) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    async with client.stream("POST", "/api/llm/chat", json=body) as response:
        assert response.status_code == 200, await response.aread()
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    return events
