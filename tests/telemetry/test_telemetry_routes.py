"""GET /api/nodes/{node_id}/telemetry through a minimal Starlette app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient
from telemetry_fakes import FakeNvml

from agent.core.errors import ApiError
from agent.core.subsystem import Context
from agent.ops.openapi import build_openapi
from agent.telemetry.gpu import GpuReader
from agent.telemetry.models import TelemetryHistory
from agent.telemetry.subsystem import TelemetrySubsystem, assemble
from tests.ops.published import assert_matches, problems


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


@pytest.fixture
async def subsystem(ctx: Context, absent_nvml: FakeNvml) -> TelemetrySubsystem:
    subsystem = assemble(ctx, gpu=GpuReader(absent_nvml))
    for _ in range(3):
        await subsystem.service.sample_now()
    return subsystem


@pytest.fixture
async def client(subsystem: TelemetrySubsystem) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=subsystem.routes(), exception_handlers={ApiError: _api_error})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def url(node_id: str) -> str:
    return f"/api/nodes/{node_id}/telemetry"


async def test_own_node_answers_from_the_ring(client: httpx.AsyncClient, ctx: Context) -> None:
    response = await client.get(url(ctx.identity.node_id))
    assert response.status_code == 200
    body = response.json()
    assert body["node_id"] == ctx.identity.node_id
    assert body["count"] == 3 == len(body["samples"])
    assert body["samples"][0]["ts"] <= body["samples"][-1]["ts"]
    assert body["samples"][-1]["node_id"] == ctx.identity.node_id


async def test_seconds_limits_the_samples(client: httpx.AsyncClient, ctx: Context) -> None:
    response = await client.get(url(ctx.identity.node_id), params={"seconds": "600"})
    assert response.status_code == 200
    assert response.json()["count"] == 3


@pytest.mark.parametrize("seconds", ["0", "-1", "abc", "", "nan", "inf", "1201"])
async def test_invalid_seconds_is_a_400(
    client: httpx.AsyncClient, ctx: Context, seconds: str
) -> None:
    response = await client.get(url(ctx.identity.node_id), params={"seconds": seconds})
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error_code"] == "VALIDATION_ERROR"
    assert body["details"]["fields"][0]["field"] == "seconds"


async def test_unknown_query_parameter_is_a_400(client: httpx.AsyncClient, ctx: Context) -> None:
    response = await client.get(url(ctx.identity.node_id), params={"minutes": "5"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_other_node_is_not_found(api: TestClient) -> None:
    """A node that is not a member (the whole app: another member's history is asked of it)."""
    response = api.get(url("someoneelse"))
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == "NODE_NOT_FOUND"
    assert body["details"] == {"node_id": "someoneelse"}


def test_route_is_documented(subsystem: TelemetrySubsystem) -> None:
    (route,) = subsystem.routes()
    assert route.path == "/api/nodes/{node_id}/telemetry"  # type: ignore[attr-defined]
    doc = route.doc  # type: ignore[attr-defined]
    assert doc.tag == "telemetry"
    assert [q.name for q in doc.query] == ["seconds"]
    assert doc.answer is TelemetryHistory


async def test_answer_matches_its_published_schema(
    client: httpx.AsyncClient, subsystem: TelemetrySubsystem, ctx: Context
) -> None:
    spec = build_openapi(subsystem.routes(), "test")
    body = (await client.get(url(ctx.identity.node_id))).json()
    assert_matches(spec, "GET", "/api/nodes/{node_id}/telemetry", body)
    assert TelemetryHistory.model_validate(body).model_dump(mode="json") == body
    assert problems(spec, "GET", "/api/nodes/{node_id}/telemetry", {**body, "count": "3"})
