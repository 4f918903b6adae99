"""The test server over streamable HTTP: tools and calls through the agent, and the session
DELETE sent when the server is disabled or deleted (the server counts them). It speaks the
2025 protocol: sessions (and so their DELETE) exist only there; 2026 is sessionless."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from tests.fakes.mcp_servers import SERVER
from tests.harness import async_wait_until
from tests.mcp.kit import McpNode, mcp_node

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", "--legacy"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait(10)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[McpNode]:
    async with mcp_node(tmp_path_factory.mktemp("mcp")) as found:
        yield found


def deletes(base: str) -> int:
    return int(httpx.get(base + "/counts", timeout=5).json()["delete"])


async def test_http_server_and_its_session_delete(node: McpNode, http_server: str) -> None:
    body = {
        "name": "remote",
        "transport": {"type": "http", "url": http_server + "/mcp", "headers": {"X-Team": "a"}},
        "credentials": {"Authorization": "Bearer hidden-value"},
    }
    created = await node.http.post("/api/mcp/servers", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["transport"]["headers"] == {"X-Team": "a"}
    assert created.json()["credential_names"] == ["Authorization"]
    done = await node.http.post(
        "/api/mcp/servers/remote/test", json={"tool": "add", "arguments": {"a": 20, "b": 22}}
    )
    assert done.status_code == 200, done.text
    assert done.json()["result"]["text"] == "42"
    # The credential and the plain header both reach the server, as headers.
    for header, value in (("Authorization", "Bearer hidden-value"), ("X-Team", "a")):
        echoed = await node.http.post(
            "/api/mcp/servers/remote/test",
            json={"tool": "echo_header", "arguments": {"name": header}},
        )
        assert echoed.json()["result"]["text"] == value, echoed.text
    before = deletes(http_server)
    off = await node.http.put("/api/mcp/servers/remote/toggle", json={"enabled": False})
    assert off.json()["state"] == "stopped"
    await async_wait_until(lambda: deletes(http_server) == before + 1, 10, "the DELETE")

    await node.http.put("/api/mcp/servers/remote/toggle", json={"enabled": True})
    listed = await node.http.get("/api/mcp/servers/remote/tools")
    assert listed.status_code == 200
    assert listed.json()["count"] >= 5
    await node.http.delete("/api/mcp/servers/remote")
    await async_wait_until(lambda: deletes(http_server) == before + 2, 10, "the second DELETE")
    assert "hidden-value" not in str(node.events())
