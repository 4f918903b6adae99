"""The SDK without an agent: SSE parsing, error bodies, discovery (httpx MockTransport)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from agent.client import (
    DEFAULT_URL,
    AgentClient,
    AgentUnavailable,
    ApiError,
    Health,
    HealthProbe,
    SSEParser,
    StreamEvent,
    discover,
    parse_sse,
)
from agent.settings import SettingsError
from tests.client.conftest import free_port

Handler = Callable[[httpx.Request], httpx.Response]


def client_with(handler: Handler, token: str | None = "secret") -> AgentClient:
    return AgentClient("http://agent.test", token, transport=httpx.MockTransport(handler))


# --- SSE ----------------------------------------------------------------------------------


def test_sse_joins_multiline_data_and_skips_comments() -> None:
    text = (
        ": ping - keep-alive\n"
        "event: node.telemetry\n"
        "id: 41\n"
        'data: {"a":\n'
        ": a comment between data lines\n"
        "data: 1}\n"
        "\n"
        "event: note\n"
        "data:first\n"
        "data\n"
        "data:  two spaces keep one\n"
        "\n"
    )
    events = list(parse_sse(text.splitlines(keepends=True)))
    assert events == [
        StreamEvent(id=41, topic="node.telemetry", data={"a": 1}),
        StreamEvent(id=None, topic="note", data="first\n\n two spaces keep one"),
    ]


def test_sse_event_without_data_or_blank_line_is_not_dispatched() -> None:
    parser = SSEParser()
    assert parser.feed("event: lonely") is None
    assert parser.feed("id: 3") is None
    assert parser.feed("") is None  # no data: nothing to dispatch, state resets
    assert parser.feed("data: 5") is None
    assert parser.feed("") == StreamEvent(id=None, topic="message", data=5)
    # An event cut off before its blank line is dropped.
    assert list(parse_sse(["event: x\r\n", "data: 1\r\n"])) == []


def test_sse_non_numeric_id_and_unknown_fields() -> None:
    lines = ["id: abc", "retry: 1000", "colour: blue", "event: t", "data: [1]", ""]
    assert list(parse_sse(lines)) == [StreamEvent(id=None, topic="t", data=[1])]


async def test_events_stream_sends_topics_and_last_event_id() -> None:
    seen: list[httpx.Request] = []

    async def chunks() -> AsyncIterator[bytes]:
        # Line endings split across chunks, as a network may deliver them.
        for part in [
            b": ping\r\n\r",
            b"\nevent: a\r\nid: 7\r\nda",
            b'ta: {"x": 1}\r\n\r\n',
            b"event: b\r\nid: 8\r\ndata: 2\r\n\r\n",
        ]:
            yield part

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=chunks(), headers={"content-type": "text/event-stream"})

    async with client_with(handler) as client:
        events = [e async for e in client.events(["a", "b"], last_event_id=6)]
    assert events == [StreamEvent(7, "a", {"x": 1}), StreamEvent(8, "b", 2)]
    (request,) = seen
    assert request.url.params["topics"] == "a,b"
    assert request.headers["last-event-id"] == "6"
    assert request.headers["authorization"] == "Bearer secret"


async def test_events_error_status_raises_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "success": False,
            "error": "bad id",
            "error_code": "VALIDATION_ERROR",
            "details": {},
        }
        return httpx.Response(400, json=body)

    async with client_with(handler) as client:
        with pytest.raises(ApiError) as caught:
            _ = [e async for e in client.events(last_event_id=1)]
    assert caught.value.code == "VALIDATION_ERROR"


# --- errors -------------------------------------------------------------------------------


async def test_api_error_from_the_standard_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path == b"/api/nodes/a%2Fb"
        body = {
            "success": False,
            "error": "no node with id 'a/b'",
            "error_code": "NODE_NOT_FOUND",
            "details": {"node_id": "a/b"},
        }
        return httpx.Response(404, json=body)

    async with client_with(handler) as client:
        with pytest.raises(ApiError) as caught:
            await client.node("a/b")
    error = caught.value
    assert (error.status, error.code, error.message) == (
        404,
        "NODE_NOT_FOUND",
        "no node with id 'a/b'",
    )
    assert error.details == {"node_id": "a/b"}
    assert str(error) == "no node with id 'a/b' (NODE_NOT_FOUND)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Bad Gateway</html>", "the agent answered HTTP 502 Bad Gateway: <html>Bad Gateway"),
        (b"", "the agent answered HTTP 502 Bad Gateway"),
        (b'{"detail": "nope"}', 'the agent answered HTTP 502 Bad Gateway: {"detail": "nope"}'),
    ],
)
def test_api_error_fallback_for_other_bodies(body: bytes, message: str) -> None:
    error = ApiError.from_response(httpx.Response(502, content=body))
    assert error.code == "HTTP_502"
    assert error.message.startswith(message)
    assert error.details == {}


async def test_health_returns_the_503_report() -> None:
    report = {
        "status": "unhealthy",
        "node_id": "n",
        "version": "0",
        "uptime_s": 1.0,
        "checks": [{"name": "database", "status": "fail", "detail": "x", "duration_ms": 0.1}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json=report)

    async with client_with(handler, token=None) as client:
        health = await client.health()
    assert isinstance(health, Health)
    assert health.checks[0].status == "fail"
    assert health.model_dump(mode="json") == report


async def test_health_without_a_token_is_the_probe() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"status": "unhealthy"})

    async with client_with(handler, token=None) as client:
        assert await client.health() == HealthProbe(status="unhealthy")


async def test_health_503_without_a_report_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            json={
                "success": False,
                "error": "down",
                "error_code": "SERVICE_UNAVAILABLE",
                "details": {},
            },
        )

    async with client_with(handler) as client:
        with pytest.raises(ApiError, match="SERVICE_UNAVAILABLE"):
            await client.health()


async def test_no_token_sends_no_authorization_and_text_metrics() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        assert request.url.params["format"] == "prometheus"
        return httpx.Response(200, text="# TYPE x counter\nx 1\n")

    async with client_with(handler, token=None) as client:
        assert await client.metrics_text() == "# TYPE x counter\nx 1\n"


async def test_non_json_success_body_is_an_api_error() -> None:
    async with client_with(lambda request: httpx.Response(200, text="hello")) as client:
        with pytest.raises(ApiError) as caught:
            await client.status()
    assert caught.value.code == "INVALID_RESPONSE"


async def test_a_body_of_another_shape_is_an_api_error() -> None:
    body = {"node_id": "n", "node_count": "many"}
    async with client_with(lambda request: httpx.Response(200, json=body)) as client:
        with pytest.raises(ApiError) as caught:
            await client.status()
    assert caught.value.code == "INVALID_RESPONSE"
    assert "ClusterStatus" in caught.value.message
    assert "node_name: Field required" in caught.value.message


async def test_unknown_fields_of_a_newer_agent_are_ignored() -> None:
    body = {
        "node_id": "n",
        "node_name": "desk",
        "version": "9.0",
        "cluster_id": None,
        "in_cluster": False,
        "membership_version": 1,
        "uptime_s": 1.5,
        "node_count": 1,
        "online_count": 1,
        "cpu_cores": 8,
        "ram": {"total": 4, "available": 2},
        "storage": {"total": 4, "free": 1},
        "gpu_count": 0,
        "vram": {"total": 0, "used": 0, "free": 0},
        "something_new": {"x": 1},
    }
    async with client_with(lambda request: httpx.Response(200, json=body)) as client:
        status = await client.status()
    assert status.ram.available == 2
    assert status.model_dump(mode="json") == {k: v for k, v in body.items() if k != "something_new"}


async def test_closed_port_is_agent_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with AgentClient(url, timeout=5) as client:
        with pytest.raises(AgentUnavailable) as caught:
            await client.status()
        with pytest.raises(AgentUnavailable):
            _ = [e async for e in client.events()]
    assert str(caught.value) == (
        f"no agent is answering at {url} (start one with 'openfabric serve')"
    )
    assert caught.value.url == url


# --- discovery ----------------------------------------------------------------------------


def test_discover_precedence(tmp_path: Path) -> None:
    assert discover(tmp_path, env={}) == (DEFAULT_URL, None)

    (tmp_path / "agent.json").write_text(json.dumps({"url": "http://127.0.0.1:5000"}))
    (tmp_path / "local.token").write_text("file-token\n")
    assert discover(tmp_path, env={}) == ("http://127.0.0.1:5000", "file-token")

    env = {"OPENFABRIC_URL": "http://127.0.0.1:6000/", "OPENFABRIC_TOKEN": "env-token"}
    assert discover(tmp_path, env=env) == ("http://127.0.0.1:6000", "env-token")
    assert discover(tmp_path, "http://127.0.0.1:7000", env=env)[0] == "http://127.0.0.1:7000"


def test_discover_home_comes_from_the_settings(tmp_path: Path) -> None:
    home = tmp_path / "from-env"
    home.mkdir()
    (home / "agent.json").write_text(json.dumps({"url": "http://127.0.0.1:5001"}))
    assert discover(env={"OPENFABRIC_HOME": str(home)}) == ("http://127.0.0.1:5001", None)

    config = tmp_path / "config.yaml"
    config.write_text(f"home: {home}\n")
    assert discover(config=config, env={})[0] == "http://127.0.0.1:5001"


def test_discover_tolerates_a_broken_agent_json(tmp_path: Path) -> None:
    (tmp_path / "agent.json").write_text("{not json")
    assert discover(tmp_path, env={})[0] == DEFAULT_URL


def test_discover_rejects_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("port: 99999\n")
    with pytest.raises(SettingsError):
        discover(config=config, env={})
