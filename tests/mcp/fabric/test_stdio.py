"""`openfabric mcp serve` driven by the SDK's own client over stdio, against a live agent:
every tool listed with its schema, each area's tools answering from the agent, refusals as
tool errors, nothing but protocol on stdout, a clean exit on stdin EOF."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from agent.server import bind
from tests.harness import AgentProcess, agent_env, call
from tests.mcp.fabric.support import (
    EXPECTED_TOOLS,
    answer,
    refusal,
    serve_command,
    warm_agent,
)

CALL_S = 60.0


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    with warm_agent(tmp_path_factory.mktemp("fabric-stdio") / "a") as agent:
        yield agent


def fabric(agent: AgentProcess, url: str | None = None) -> Client:
    command, *args = serve_command()
    params = StdioServerParameters(
        command=command,
        args=[*args, "--url", url or agent.url],
        env=agent_env(agent.home),
        cwd=Path(__file__).resolve().parents[3],
    )
    return Client(params, read_timeout_seconds=CALL_S)


async def test_every_tool_is_listed_with_its_schema(agent: AgentProcess) -> None:
    async with fabric(agent) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == EXPECTED_TOOLS
    for tool in tools.values():
        assert len(tool.description or "") > 40, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None, tool.name
    submit = tools["submit_task"].input_schema
    assert submit["required"] == ["command"]
    assert {"node", "timeout_s", "env", "cwd", "retries", "labels"} <= set(submit["properties"])
    assert "256 KiB" in (tools["storage_get"].description or "")
    assert tools["nodes"].annotations is not None
    assert tools["nodes"].annotations.read_only_hint


async def test_nodes_and_node(agent: AgentProcess) -> None:
    async with fabric(agent) as client:
        listed = answer(await client.call_tool("nodes", {}))
        me = next(node for node in listed if node["is_self"])
        assert me["node_id"] == agent.info["node_id"]
        assert me["name"] == "alpha"
        shown = answer(await client.call_tool("node", {"node_id": me["node_id"]}))
        assert shown["node_id"] == me["node_id"]
        unknown = refusal(await client.call_tool("node", {"node_id": "f" * 64}))
    assert "NODE_NOT_FOUND" in unknown


async def test_a_task_runs_and_its_output_is_read(agent: AgentProcess) -> None:
    async with fabric(agent) as client:
        queued = answer(
            await client.call_tool("submit_task", {"command": "echo fabric-$((6*7)); echo e >&2"})
        )
        task_id = queued["task_id"]
        logs = answer(await client.call_tool("task_logs", {"task_id": task_id, "wait_s": 30}))
        assert logs["ended"], logs
        assert logs["stdout"] == "fabric-42\n"
        assert logs["stderr"] == "e\n"
        assert logs["task"]["state"] == "succeeded"
        assert logs["task"]["exit_code"] == 0
        shown = answer(await client.call_tool("task", {"task_id": task_id}))
        assert shown["stdout"] == "fabric-42\n"
        # Read on after the last chunk: nothing more was written.
        rest = {"task_id": task_id, "after": logs["last_chunk"], "wait_s": 30}
        again = answer(await client.call_tool("task_logs", rest))
        assert again["ended"]
        assert again["stdout"] == ""


async def test_refusals_come_back_as_tool_errors(agent: AgentProcess) -> None:
    async with fabric(agent) as client:
        unknown = refusal(
            await client.call_tool(
                "submit_task", {"command": "true", "node": "a" * 64, "wait_for_node": False}
            )
        )
        missing = refusal(await client.call_tool("task", {"task_id": "no-such-task"}))
        invalid = refusal(await client.call_tool("memory_search", {"q": "x", "k": 0}))
        # The session goes on after them.
        assert answer(await client.call_tool("nodes", {}))
    assert "UNKNOWN_NODE" in unknown or "NODE_NOT_FOUND" in unknown, unknown
    assert "TASK_NOT_FOUND" in missing
    assert "k" in invalid


async def test_storage_upload_list_and_get(agent: AgentProcess) -> None:
    async with fabric(agent) as client:
        stored = answer(
            await client.call_tool(
                "storage_upload", {"path": "notes/a.txt", "content": "héllo fabric\n"}
            )
        )
        assert stored["path"] == "notes/a.txt"
        assert stored["size"] == len("héllo fabric\n".encode())
        listed = answer(await client.call_tool("storage_list", {"prefix": "notes/"}))
        assert [f["path"] for f in listed["files"]] == ["notes/a.txt"]
        got = answer(await client.call_tool("storage_get", {"path": "notes/a.txt"}))
        assert got["text"] == "héllo fabric\n"
        assert got["sha256"] == stored["sha256"]
        exists = refusal(
            await client.call_tool("storage_upload", {"path": "notes/a.txt", "content": "x"})
        )
        assert "FILE_EXISTS" in exists
        replaced = {"path": "notes/a.txt", "content": "new", "overwrite": True}
        assert answer(await client.call_tool("storage_upload", replaced))["size"] == 3
        absent = refusal(await client.call_tool("storage_get", {"path": "notes/none.txt"}))
        assert "FILE_NOT_FOUND" in absent


async def test_binary_and_large_files_are_summarised(agent: AgentProcess) -> None:
    for path, content in (("bin/blob", b"\x00\xff\xfe" * 10), ("bin/big.txt", b"a" * 300_000)):
        response = call(
            agent, "POST", "/api/storage/upload", params={"path": path}, content=content
        )
        assert response.status_code in (200, 201), response.text
    async with fabric(agent) as client:
        blob = answer(await client.call_tool("storage_get", {"path": "bin/blob"}))
        big = answer(await client.call_tool("storage_get", {"path": "bin/big.txt"}))
    assert blob["text"] is None
    assert "UTF-8" in blob["note"]
    assert blob["size"] == 30
    assert big["text"] is None
    assert big["size"] == 300_000
    assert len(big["sha256"]) == 64


async def test_memory_add_and_search(agent: AgentProcess) -> None:
    async with fabric(agent) as client:
        fact = {"text": "The user's editor is vim", "key": "user.editor", "tags": ["tools"]}
        added = answer(await client.call_tool("memory_add", fact))
        assert added["outcome"] == "created"
        again = answer(await client.call_tool("memory_add", fact))
        assert again["outcome"] == "existing"
        found = answer(await client.call_tool("memory_search", {"q": "which editor", "k": 3}))
    assert found["hits"][0]["fact"]["id"] == added["fact"]["id"]


async def test_an_agent_that_is_not_running_is_said_so(agent: AgentProcess) -> None:
    sock = bind("127.0.0.1", 0)
    dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    async with fabric(agent, dead) as client:
        said = refusal(await client.call_tool("nodes", {}))
    assert "not running" in said
    assert dead in said


def test_stdout_carries_only_protocol_and_eof_ends_it(agent: AgentProcess) -> None:
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
    done = subprocess.run(
        [*serve_command(), "--url", agent.url, "--verbose"],
        input=(json.dumps(hello) + "\n").encode(),
        capture_output=True,
        env=agent_env(agent.home),
        timeout=CALL_S,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1, done.stdout
    reply = json.loads(lines[0])
    assert reply["id"] == 1
    assert reply["result"]["serverInfo"]["name"] == "openfabric"
