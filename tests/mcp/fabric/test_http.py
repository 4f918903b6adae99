"""The fabric's tools over streamable HTTP, driven by the SDK's own client: on an endpoint of
this test's own (pointed at a live agent) and on the agent's `/mcp` once it serves one.
Credentials are forwarded (token, dashboard cookie), sessions end with DELETE and are
bounded, and the agent's middleware refuses /mcp without a token or from a foreign Origin."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette

from agent.mcp.fabric.http import FabricEndpoint
from agent.server import bind
from tests.harness import AgentProcess, agent_process, call, wait_until
from tests.mcp.fabric.support import EXPECTED_TOOLS, answer, refusal

SESSION = "mcp-session-id"


@contextmanager
def serving(endpoint: FabricEndpoint) -> Iterator[str]:
    """`endpoint` mounted in an app of its own, served by uvicorn in a thread."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(endpoint.run)
            yield
            tg.cancel_scope.cancel()

    sock = bind("127.0.0.1", 0)
    app = Starlette(routes=endpoint.routes(), lifespan=lifespan)
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started and endpoint.running, 15, "the endpoint to serve")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with agent_process(tmp_path_factory.mktemp("fabric-http") / "a") as agent:
        yield agent


@pytest.fixture(scope="module")
def own(agent: AgentProcess) -> Iterator[str]:
    with serving(FabricEndpoint(agent.url, max_sessions=2)) as url:
        yield url


def agent_serves_mcp(agent: AgentProcess) -> bool:
    return call(agent, "DELETE", "/mcp").status_code not in (404, 405)


@pytest.fixture(params=["own", "agent"])
def mcp_url(request: pytest.FixtureRequest, agent: AgentProcess) -> str:
    if request.param == "own":
        url: str = request.getfixturevalue("own")
        return url
    if not agent_serves_mcp(agent):
        pytest.skip("the agent does not serve /mcp yet")
    return agent.url + "/mcp"


def fabric(url: str, headers: dict[str, str], seen: list[Any] | None = None) -> Client:
    async def record(response: httpx2.Response) -> None:
        if seen is not None:
            request = response.request
            seen.append((request.method, request.headers.get(SESSION), response.status_code))

    http = httpx2.AsyncClient(headers=headers, event_hooks={"response": [record]})
    transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
    # Handshake-era mode: the one with sessions (2026 clients send self-contained requests).
    return Client(transport, mode="legacy", read_timeout_seconds=30)


async def test_tools_over_http(mcp_url: str, agent: AgentProcess) -> None:
    async with fabric(mcp_url, agent.headers()) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        listed = answer(await client.call_tool("nodes", {}))
        stored = {"path": "http/a.txt", "content": "over http", "overwrite": True}
        answer(await client.call_tool("storage_upload", stored))
        got = answer(await client.call_tool("storage_get", {"path": "http/a.txt"}))
        unknown = refusal(await client.call_tool("node", {"node_id": "f" * 64}))
    assert tools == EXPECTED_TOOLS
    assert [node["node_id"] for node in listed] == [agent.info["node_id"]]
    assert got["text"] == "over http"
    assert "NODE_NOT_FOUND" in unknown


async def test_each_call_carries_the_callers_credentials(own: str, agent: AgentProcess) -> None:
    async with fabric(own, {}) as client:
        anonymous = refusal(await client.call_tool("nodes", {}))
    assert "UNAUTHORIZED" in anonymous
    code = call(agent, "POST", "/api/auth/login-code").json()["code"]
    async with httpx.AsyncClient() as browser:
        login = await browser.get(f"{agent.url}/login", params={"code": code})
    cookies = "; ".join(f"{name}={value}" for name, value in login.cookies.items())
    assert cookies, login.headers
    async with fabric(own, {"Cookie": f"other=1; {cookies}"}) as client:
        assert answer(await client.call_tool("nodes", {}))


async def test_a_session_ends_with_delete(mcp_url: str, agent: AgentProcess) -> None:
    seen: list[Any] = []
    async with fabric(mcp_url, agent.headers(), seen) as client:
        answer(await client.call_tool("nodes", {}))
    session = next(sid for method, sid, _ in seen if sid)
    assert ("DELETE", session, 200) in seen, seen
    ping = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
    headers = {
        **agent.headers(),
        SESSION: session,
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    async with httpx.AsyncClient(timeout=10) as raw:
        gone = await raw.post(mcp_url, json=ping, headers=headers)
    assert gone.status_code == 404, gone.text


async def test_live_sessions_are_bounded(own: str, agent: AgentProcess) -> None:
    async with fabric(own, agent.headers()) as first, fabric(own, agent.headers()):
        refused = False
        try:
            async with fabric(own, agent.headers()):
                pass
        except* MCPError as group:
            refused = "Too many open sessions" in repr(group.exceptions)
        assert refused
        assert answer(await first.call_tool("nodes", {}))
    # Both ended with DELETE: there is room again.
    async with fabric(own, agent.headers()) as again:
        assert answer(await again.call_tool("nodes", {}))


def test_idle_sessions_expire(agent: AgentProcess) -> None:
    endpoint = FabricEndpoint(agent.url, max_sessions=1, idle_timeout=0.5)
    headers = {**agent.headers(), "Accept": "application/json, text/event-stream"}
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    with serving(endpoint) as url:
        opened = httpx.post(url, json=hello, headers=headers, timeout=10)
        assert opened.status_code == 200, opened.text
        session = opened.headers[SESSION]
        # The one session there is room for is taken until it expires; asking for another
        # leaves it idle.
        taken = httpx.post(url, json=hello, headers=headers, timeout=10)
        assert taken.status_code == 503, taken.text

        def room_again() -> bool:
            return httpx.post(url, json=hello, headers=headers, timeout=10).status_code == 200

        wait_until(room_again, 20, "the idle session to be closed")
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        in_session = {**headers, SESSION: session, "MCP-Protocol-Version": "2025-06-18"}
        assert httpx.post(url, json=ping, headers=in_session, timeout=10).status_code == 404


def test_mcp_needs_a_token(agent: AgentProcess) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = httpx.request(method, agent.url + "/mcp", json={}, timeout=10)
        assert response.status_code == 401, response.text
        assert response.json()["error_code"] == "UNAUTHORIZED"


def test_mcp_refuses_a_foreign_origin(agent: AgentProcess) -> None:
    headers = {**agent.headers(), "Origin": "http://evil.example"}
    response = httpx.post(agent.url + "/mcp", json={}, headers=headers, timeout=10)
    assert response.status_code == 403, response.text
    assert response.json()["error_code"] == "ORIGIN_NOT_ALLOWED"
    rebound = {**agent.headers(), "Host": "evil.example"}
    response = httpx.post(agent.url + "/mcp", json={}, headers=rebound, timeout=10)
    assert response.status_code == 403
    assert response.json()["error_code"] == "HOST_NOT_ALLOWED"


async def test_a_2026_client_needs_no_session(own: str, agent: AgentProcess) -> None:
    sessions: list[str] = []

    async def record(response: httpx2.Response) -> None:
        sessions.extend(filter(None, [response.headers.get(SESSION)]))

    http = httpx2.AsyncClient(headers=agent.headers(), event_hooks={"response": [record]})
    async with Client(streamable_http_client(own, http_client=http)) as client:
        assert answer(await client.call_tool("nodes", {}))
        version = client.protocol_version
    assert version == "2026-07-28"
    assert sessions == []
