from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

FINAL = {"succeeded", "failed", "cancelled", "timed_out", "lost"}


async def wait_task(
    client: httpx.AsyncClient, task_id: str, states: set[str] = FINAL, within: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = (await client.get(f"/api/tasks/{task_id}")).json()
        if body["state"] in states:
            return body
        assert time.monotonic() < deadline, f"task stayed {body['state']}: {body}"
        await asyncio.sleep(0.02)


async def submit(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/tasks", json=body)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task
