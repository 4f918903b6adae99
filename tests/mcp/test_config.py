"""Configuration through the routes: credentials stay write-only (absent from every answer
and event, 0600 on disk, present in the server's env), bad input changes nothing, builtins
(the PyPI time server over stdio), and no process left once the subsystem stops."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.mcp.kit import McpNode, fake_server, mcp_node
from tests.mcp.test_stdio import group_alive

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET = "s3cret-value-9f81"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[McpNode]:
    async with mcp_node(tmp_path_factory.mktemp("mcp")) as found:
        yield found


async def servers(node: McpNode) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await node.http.get("/api/mcp/servers")).json()["servers"]
    return listed


async def test_credentials_are_write_only(node: McpNode) -> None:
    answers: list[str] = []
    created = await node.http.post(
        "/api/mcp/servers",
        json={
            "name": "vault",
            "transport": fake_server("--stderr", "API_TOKEN", env={"PLAIN": "p"}),
            "credentials": {"API_TOKEN": SECRET},
        },
    )
    assert created.status_code == 201, created.text
    answers.append(created.text)
    assert created.json()["credential_names"] == ["API_TOKEN"]
    assert created.json()["transport"]["env"] == {"PLAIN": "p"}
    echoed = await node.http.post(
        "/api/mcp/servers/vault/test",
        json={"tool": "echo_env", "arguments": {"name": "API_TOKEN"}},
    )
    assert echoed.json()["result"]["text"] == SECRET  # the server got it in its env
    answers.append((await node.http.get("/api/mcp/servers/vault/tools")).text)
    answers.append((await node.http.post("/api/mcp/servers/vault/test", json={})).text)
    listing = await node.http.get("/api/mcp/servers")
    answers.append(listing.text)
    vault = next(s for s in listing.json()["servers"] if s["name"] == "vault")
    assert "token is ***" in vault["stderr_tail"]
    answers.append((await node.http.put("/api/mcp/servers/vault/toggle")).text)
    answers.append((await node.http.put("/api/mcp/servers/vault/toggle")).text)
    for answer in answers:
        assert SECRET not in answer
    assert SECRET not in json.dumps(node.events())
    store = node.home / "mcp" / "credentials.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    assert SECRET.encode() not in (node.home / "fabric.db").read_bytes()
    await node.http.delete("/api/mcp/servers/vault")
    assert SECRET not in store.read_text()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x1", "transport": {"type": "stdio"}}, "VALIDATION_ERROR"),
        ({"name": "x2", "transport": {"type": "http", "url": "ftp://h/mcp"}}, "VALIDATION_ERROR"),
        ({"name": "x3", "transport": {"type": "smoke", "command": "x"}}, "VALIDATION_ERROR"),
        ({"name": "Bad Name", "transport": fake_server()}, "VALIDATION_ERROR"),
        ({"name": "x4", "transport": fake_server(*["a"] * 65)}, "VALIDATION_ERROR"),
        (
            {"name": "x5", "transport": {**fake_server(), "command": "c" * 5000}},
            "VALIDATION_ERROR",
        ),
        ({"name": "x6", "transport": fake_server(), "credentials": {"A": "v" * 9000}}, None),
        ({"name": "x7", "transport": fake_server(), "credentials": {"X-Key": "v"}}, None),
        (
            {"name": "x8", "transport": fake_server(env={f"K{i}": "v" for i in range(65)})},
            "VALIDATION_ERROR",
        ),
        ({"name": "x9", "transport": fake_server(env={"1BAD": "v"})}, "VALIDATION_ERROR"),
        ({"builtin": "nope"}, "MCP_BUILTIN_UNKNOWN"),
        ({"builtin": "git"}, "MCP_BUILTIN_OPTIONS"),
        ({"builtin": "git", "options": {"repository": "/"}}, "MCP_BUILTIN_OPTIONS"),
        ({"builtin": "time", "transport": fake_server()}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_input_changes_nothing(
    node: McpNode, body: dict[str, Any], code: str | None
) -> None:
    before = await servers(node)
    response = await node.http.post("/api/mcp/servers", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == (code or "VALIDATION_ERROR")
    assert await servers(node) == before


async def test_duplicate_name(node: McpNode) -> None:
    body = {"name": "twice", "transport": fake_server(), "enabled": False}
    assert (await node.http.post("/api/mcp/servers", json=body)).status_code == 201
    again = await node.http.post("/api/mcp/servers", json=body)
    assert again.status_code == 409
    assert again.json()["error_code"] == "MCP_SERVER_EXISTS"
    unknown = await node.http.delete("/api/mcp/servers/never")
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "MCP_SERVER_NOT_FOUND"
    assert (await node.http.put("/api/mcp/servers/never/toggle")).status_code == 404


async def test_failed_start_says_why(node: McpNode) -> None:
    missing = {"type": "stdio", "command": "/nonexistent/mcp-server-xyz"}
    await node.http.post("/api/mcp/servers", json={"name": "missing", "transport": missing})
    answer = await node.http.get("/api/mcp/servers/missing/tools")
    assert answer.status_code == 503
    assert answer.json()["error_code"] == "MCP_SERVER_FAILED"
    assert "command not found: /nonexistent/mcp-server-xyz" in answer.json()["error"]
    exits = {
        "type": "stdio",
        "command": sys.executable,
        "args": ["-c", "import sys; sys.stderr.write('no config\\n'); sys.exit(2)"],
    }
    await node.http.post("/api/mcp/servers", json={"name": "exits", "transport": exits})
    answer = await node.http.get("/api/mcp/servers/exits/tools")
    assert answer.status_code == 503
    assert "exited with status 2: no config" in answer.json()["error"]
    refused = {"type": "http", "url": "http://127.0.0.1:9/mcp"}
    await node.http.post("/api/mcp/servers", json={"name": "refused", "transport": refused})
    answer = await node.http.get("/api/mcp/servers/refused/tools")
    assert answer.status_code == 503
    assert "connection refused" in answer.json()["error"], answer.json()["error"]
    assert "TaskGroup" not in answer.json()["error"]


async def test_builtins(node: McpNode, tmp_path: Path) -> None:
    listed = (await node.http.get("/api/mcp/builtins")).json()
    by_name = {b["name"]: b for b in listed["builtins"]}
    assert {"time", "fetch", "git", "fabric", "filesystem"} <= set(by_name)
    assert by_name["time"]["available"]
    assert by_name["fabric"]["available"]
    assert by_name["git"]["options"][0] == {
        "name": "repository",
        "description": "A git work tree",
        "required": True,
    }
    npx = by_name["filesystem"]["needs"][0]
    assert npx["present"] == by_name["filesystem"]["available"]
    if not npx["present"]:
        refused = await node.http.post(
            "/api/mcp/servers", json={"builtin": "filesystem", "options": {"directory": "/"}}
        )
        assert refused.status_code == 400
        assert refused.json()["error_code"] == "MCP_BUILTIN_UNAVAILABLE"
        assert refused.json()["details"]["needs"][0]["what"] == "`npx` on PATH"

    created = await node.http.post("/api/mcp/servers", json={"builtin": "time"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "time"
    assert created.json()["builtin"] == "time"
    done = await node.http.post(
        "/api/mcp/servers/time/test",
        json={
            "tool": "convert_time",
            "arguments": {
                "source_timezone": "UTC",
                "time": "12:00",
                "target_timezone": "Asia/Tokyo",
            },
        },
    )
    assert done.status_code == 200, done.text
    assert "21:00" in done.json()["result"]["text"], done.json()


async def test_stopping_leaves_no_process(tmp_path: Path) -> None:
    async with mcp_node(tmp_path / "short") as short:
        await short.http.post("/api/mcp/servers", json={"name": "one", "transport": fake_server()})
        await short.http.post("/api/mcp/servers/one/test", json={})
        pgid = short.runtime_pgid("one")
        assert pgid is not None
        assert group_alive(pgid)
    assert not group_alive(pgid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
