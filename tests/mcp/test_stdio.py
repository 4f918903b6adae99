"""The test server over stdio through the subsystem's routes: tools, calls, errors, garbage
on stdout, crash and restart with backoff, hang and timeout, and no process left behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import pytest_asyncio

from tests.harness import async_wait_until
from tests.mcp.kit import McpNode, fake_server, mcp_node

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[McpNode]:
    async with mcp_node(tmp_path_factory.mktemp("mcp"), mcp_call_timeout=1.0) as found:
        yield found


def group_alive(pgid: int) -> bool:
    return any(_pgid(p) == pgid for p in psutil.process_iter())


def _pgid(process: psutil.Process) -> int | None:
    try:
        import os

        return os.getpgid(process.pid)
    except (ProcessLookupError, psutil.Error):
        return None


async def add(node: McpNode, name: str, transport: dict[str, Any]) -> None:
    response = await node.http.post("/api/mcp/servers", json={"name": name, "transport": transport})
    assert response.status_code == 201, response.text


async def test_tools_and_calls(node: McpNode) -> None:
    await add(node, "notes", fake_server())
    listed = await node.http.get("/api/mcp/servers/notes/tools")
    assert listed.status_code == 200, listed.text
    names = {t["name"] for t in listed.json()["tools"]}
    assert {"add", "echo_env", "fail", "crash", "hang"} <= names
    schema = next(t for t in listed.json()["tools"] if t["name"] == "add")["input_schema"]
    assert schema["required"] == ["a", "b"]

    done = await node.http.post(
        "/api/mcp/servers/notes/test", json={"tool": "add", "arguments": {"a": 2, "b": 3}}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["result"]["text"] == "5"
    assert body["result"]["is_error"] is False
    assert body["timings"]["start_ms"] is None  # it was running already
    assert body["result"]["content"][0]["type"] == "text"

    failed = await node.http.post("/api/mcp/servers/notes/test", json={"tool": "fail"})
    assert failed.status_code == 200
    assert failed.json()["result"]["is_error"] is True
    assert "failed on purpose" in failed.json()["result"]["text"]

    view = (await node.http.get("/api/mcp/servers")).json()["servers"][0]
    assert view["state"] == "ready"
    assert view["tool_count"] == len(names)
    assert view["server_info"] == {"name": "fake-notes", "version": "1.2.3"}


async def test_bad_calls(node: McpNode) -> None:
    await add(node, "strict", fake_server())
    invalid = await node.http.post(
        "/api/mcp/servers/strict/test", json={"tool": "add", "arguments": {"a": "x"}}
    )
    assert invalid.status_code == 400, invalid.text
    assert invalid.json()["error_code"] == "MCP_TOOL_ARGUMENTS_INVALID"
    fields = {e["field"] for e in invalid.json()["details"]["errors"]}
    assert fields == {"a", "(arguments)"}
    unknown = await node.http.post("/api/mcp/servers/strict/test", json={"tool": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "MCP_TOOL_NOT_FOUND"
    missing = await node.http.get("/api/mcp/servers/ghost/tools")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "MCP_SERVER_NOT_FOUND"


async def test_listing_without_a_tool_starts_it(node: McpNode) -> None:
    await add(node, "lister", fake_server())
    done = await node.http.post("/api/mcp/servers/lister/test", json={})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["tool"] is None
    assert body["result"] is None
    assert any(t["name"] == "add" for t in body["tools"])
    assert body["timings"]["start_ms"] is not None


async def test_garbage_on_stdout_does_not_break_the_session(node: McpNode) -> None:
    await add(node, "junk", fake_server("--garbage"))
    noisy = await node.http.post("/api/mcp/servers/junk/test", json={"tool": "noisy"})
    assert noisy.status_code == 200, noisy.text
    assert noisy.json()["result"]["text"] == "still here"
    again = await node.http.post(
        "/api/mcp/servers/junk/test", json={"tool": "add", "arguments": {"a": 1, "b": 1}}
    )
    assert again.json()["result"]["text"] == "2"


async def test_hang_times_out_and_the_server_stays_usable(node: McpNode) -> None:
    await add(node, "slow", fake_server())
    hung = await node.http.post("/api/mcp/servers/slow/test", json={"tool": "hang"})
    assert hung.status_code == 504, hung.text
    assert hung.json()["error_code"] == "MCP_TIMEOUT"
    assert "timed out after 1 s" in hung.json()["error"]
    after = await node.http.post(
        "/api/mcp/servers/slow/test", json={"tool": "add", "arguments": {"a": 4, "b": 4}}
    )
    assert after.status_code == 200
    assert after.json()["result"]["text"] == "8"


async def test_crash_restarts_with_backoff(node: McpNode) -> None:
    await add(node, "fragile", fake_server())
    await node.http.post("/api/mcp/servers/fragile/test", json={})
    first = node.runtime_pgid("fragile")
    assert first is not None
    crashed = await node.http.post("/api/mcp/servers/fragile/test", json={"tool": "crash"})
    assert crashed.status_code == 503, crashed.text

    def restarting() -> bool:
        return any(
            topic == "mcp.server.state"
            and data["name"] == "fragile"
            and data["state"] == "failed"
            and data["restarts"] == 1
            for topic, data in node.events()
        )

    await async_wait_until(restarting, 20, "the crash to be reported")
    failed = next(
        data
        for topic, data in node.events()
        if topic == "mcp.server.state" and data["name"] == "fragile" and data["restarts"] == 1
    )
    assert "exited with status 3" in failed["reason"]
    assert "restarting in" in failed["reason"]
    assert "about to crash" in failed["reason"]

    async def view() -> dict[str, Any]:
        servers = (await node.http.get("/api/mcp/servers")).json()["servers"]
        return next(s for s in servers if s["name"] == "fragile")

    state: dict[str, Any] = {}

    async def back() -> bool:
        state.update(await view())
        return bool(state["state"] == "ready")

    await async_wait_until(back, 20, "the server back after its restart")
    assert state["restarts"] == 1
    assert state["next_restart_at"] is None
    assert not group_alive(first)
    again = await node.http.post(
        "/api/mcp/servers/fragile/test", json={"tool": "add", "arguments": {"a": 1, "b": 2}}
    )
    assert again.json()["result"]["text"] == "3"
    # A second crash waits longer: the backoff doubles.
    await node.http.post("/api/mcp/servers/fragile/test", json={"tool": "crash"})
    await async_wait_until(
        lambda: any(
            d["name"] == "fragile" and d["restarts"] == 2 and "0.1 s" in (d["reason"] or "")
            for t, d in node.events()
            if t == "mcp.server.state"
        ),
        20,
        "the second restart",
    )


async def test_delete_and_disable_leave_no_process(node: McpNode, tmp_path: Path) -> None:
    for name in ("gone", "off"):
        await add(node, name, fake_server())
        await node.http.post(f"/api/mcp/servers/{name}/test", json={})
    gone, off = node.runtime_pgid("gone"), node.runtime_pgid("off")
    assert gone is not None
    assert off is not None
    assert group_alive(gone)
    deleted = await node.http.delete("/api/mcp/servers/gone")
    assert deleted.json() == {"name": "gone", "deleted": True}
    assert not group_alive(gone)
    toggled = await node.http.put("/api/mcp/servers/off/toggle", json={"enabled": False})
    assert toggled.json()["enabled"] is False
    assert toggled.json()["state"] == "stopped"
    assert not group_alive(off)
    disabled = await node.http.get("/api/mcp/servers/off/tools")
    assert disabled.status_code == 409
    assert disabled.json()["error_code"] == "MCP_SERVER_DISABLED"
    flipped = await node.http.put("/api/mcp/servers/off/toggle")
    assert flipped.json()["enabled"] is True
    assert (await node.http.get("/api/mcp/servers/off/tools")).status_code == 200
