"""The actions against one live agent (remote_exec and mcp_share_tools off, so a flow from
another member is refused this node's shell and tools): tasks, storage, chat, MCP, brain,
notify."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import pytest_asyncio

from agent.flows.actions.base import StepFailed
from tests.brain.live import SETTLE_S
from tests.flows.actions.kit import ANSWER, MODEL, Call, Node, action_node, run
from tests.harness import async_wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    home = tmp_path_factory.mktemp("actions")
    async with action_node(home, remote_exec=False, mcp_share_tools=False) as found:
        yield found


# -- task.run --


async def test_a_command_runs_and_answers_its_output(node: Node) -> None:
    out = await run(node, "task.run", {"command": "echo hello; echo oops >&2", "node": "local"})
    assert out["exit_code"] == 0
    assert out["state"] == "succeeded"
    assert out["stdout"] == "hello\n"
    assert out["stderr"] == "oops\n"
    assert out["node_id"] == node.ctx.identity.node_id
    assert out["task_id"].startswith("t")


async def test_a_failing_command_fails_the_step_with_its_outputs(node: Node) -> None:
    with pytest.raises(StepFailed) as failed:
        await run(node, "task.run", {"command": "echo partial; exit 3"})
    assert "exited with 3" in failed.value.message
    assert failed.value.outputs["exit_code"] == 3
    assert failed.value.outputs["stdout"] == "partial\n"


async def test_allow_failure_answers_the_exit_code(node: Node) -> None:
    out = await run(node, "task.run", {"command": "exit 4", "allow_failure": True})
    assert out["exit_code"] == 4
    assert out["state"] == "failed"


async def test_a_step_cancelled_by_its_timeout_cancels_the_task(node: Node) -> None:
    seen = Call()
    with anyio.move_on_after(1.5) as scope:
        await run(node, "task.run", {"command": "sleep 60"}, seen=seen)
    assert scope.cancelled_caught
    found = re.search(r"task (t[0-9a-f]+) submitted", seen.logs[0])
    assert found is not None, seen.logs

    async def cancelled() -> bool:
        return (await node.client.task(found.group(1))).state == "cancelled"

    await async_wait_until(cancelled, 15, "the task to be cancelled")


async def test_a_foreign_flow_may_not_run_commands_here(node: Node) -> None:
    for where in ("local", node.ctx.identity.node_id, node.ctx.identity.node_id[:0] or "any"):
        with pytest.raises(StepFailed, match="remote_exec"):
            await run(node, "task.run", {"command": "true", "node": where}, foreign=True)
    before = (await node.client.tasks()).total
    with pytest.raises(StepFailed):
        await run(node, "task.run", {"command": "true"}, foreign=True)
    assert (await node.client.tasks()).total == before  # nothing was submitted


async def test_an_unknown_node_is_named(node: Node) -> None:
    with pytest.raises(StepFailed, match="no member 'nowhere'"):
        await run(node, "task.run", {"command": "true", "node": "nowhere"})


# -- storage.* --


async def test_storage_round_trip(node: Node) -> None:
    put = await run(node, "storage.put", {"path": "flows/note.txt", "content": "héllo wörld"})
    assert put["path"] == "flows/note.txt"
    assert put["size"] == len("héllo wörld".encode())
    got = await run(node, "storage.get", {"path": "flows/note.txt"})
    assert got == {
        "path": "flows/note.txt",
        "content": "héllo wörld",
        "size": 13,
        "truncated": False,
    }
    # Cut inside "é" (bytes 1-2): the half character is dropped, not shown as garbage.
    cut = await run(node, "storage.get", {"path": "flows/note.txt", "max_bytes": 2})
    assert cut["content"] == "h"
    assert cut["truncated"]
    assert cut["size"] == 13
    listed = await run(node, "storage.ls", {"prefix": "flows/"})
    assert listed["paths"] == ["flows/note.txt"]
    assert listed["count"] == 1
    assert listed["files"][0]["sha256"] == put["sha256"]
    again = await run(node, "storage.put", {"path": "flows/note.txt", "content": "v2"})
    assert again["size"] == 2  # overwritten
    assert await run(node, "storage.rm", {"path": "flows/note.txt"}) == {
        "path": "flows/note.txt",
        "deleted": True,
    }
    gone = await run(node, "storage.rm", {"path": "flows/note.txt", "missing_ok": True})
    assert gone["deleted"] is False
    with pytest.raises(StepFailed, match="FILE_NOT_FOUND"):
        await run(node, "storage.rm", {"path": "flows/note.txt"})
    with pytest.raises(StepFailed, match="FILE_NOT_FOUND"):
        await run(node, "storage.get", {"path": "flows/note.txt"})


async def test_a_local_file_is_stored_unless_the_flow_is_foreign(
    node: Node, tmp_path: Path
) -> None:
    source = tmp_path / "backup.bin"
    source.write_bytes(b"x" * 300_000)
    put = await run(node, "storage.put", {"path": "backups/b.bin", "file": str(source)})
    assert put["size"] == 300_000
    with pytest.raises(StepFailed, match="may not read this node's files"):
        await run(node, "storage.put", {"path": "backups/c.bin", "file": str(source)}, foreign=True)
    with pytest.raises(StepFailed, match="cannot be read"):
        await run(node, "storage.put", {"path": "backups/d.bin", "file": str(tmp_path / "no")})
    await run(node, "storage.rm", {"path": "backups/b.bin"})


# -- llm.chat --


async def test_a_chat_answers_text_and_counts(node: Node) -> None:
    out = await run(node, "llm.chat", {"prompt": "When?", "system": "Be brief.", "model": MODEL})
    assert out["text"] == ANSWER
    assert out["model"] == MODEL
    assert out["node_id"] == node.ctx.identity.node_id
    assert isinstance(out["prompt_tokens"], int)
    assert isinstance(out["completion_tokens"], int)
    sent = [r.body for r in node.ollama.requests if r.path == "/api/chat"][-1]
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


async def test_without_a_model_the_clusters_chat_model_answers(node: Node) -> None:
    ask = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
    out = await run(node, "llm.chat", ask)
    assert out["model"] == MODEL
    assert out["text"] == ANSWER
    sent = [r.body for r in node.ollama.requests if r.path == "/api/chat"][-1]
    assert sent["options"]["temperature"] == 0.2


async def test_an_unknown_model_fails_with_the_apis_message(node: Node) -> None:
    with pytest.raises(StepFailed, match="MODEL_NOT_FOUND"):
        await run(node, "llm.chat", {"prompt": "hi", "model": "nope:1b"})


# -- mcp.call --


async def test_a_tool_answers_its_text(node: Node) -> None:
    out = await run(
        node, "mcp.call", {"server": "notes", "tool": "add", "arguments": {"a": 2, "b": 3}}
    )
    assert out["text"] == "5"
    assert out["node_id"] == node.ctx.identity.node_id


async def test_a_tools_error_fails_the_step(node: Node) -> None:
    with pytest.raises(StepFailed, match=r"notes/fail failed: .*melted") as failed:
        await run(
            node, "mcp.call", {"server": "notes", "tool": "fail", "arguments": {"why": "melted"}}
        )
    assert "melted" in failed.value.outputs["text"]


async def test_a_foreign_flow_may_not_call_this_nodes_unshared_servers(node: Node) -> None:
    with pytest.raises(StepFailed, match="mcp_share_tools off"):
        await run(
            node,
            "mcp.call",
            {"server": "notes", "tool": "add", "arguments": {"a": 1, "b": 1}},
            foreign=True,
        )
    with pytest.raises(StepFailed, match="no member has an MCP server 'nope'"):
        await run(node, "mcp.call", {"server": "nope", "tool": "add"})


# -- brain.search --


async def test_the_brain_finds_the_document(node: Node) -> None:
    async def found() -> dict[str, object] | None:
        out = await run(node, "brain.search", {"query": "when to water tomatoes", "k": 3})
        return out if out["count"] else None

    out = await async_wait_until(found, SETTLE_S, "the document to be indexed")
    hit = out["passages"][0]
    assert hit["path"] == str(node.docs / "garden.md")
    assert hit["start_line"] >= 1
    assert "Water the tomatoes" in hit["text"]
    assert "Water the tomatoes" in out["text"]


# -- notify --


async def test_a_notice_becomes_a_card_and_an_event(node: Node) -> None:
    ask = {"title": "Backup done", "message": "3 files stored", "severity": "info"}
    out = await run(node, "notify", ask)
    assert out["insight_id"] == "notice-card:flow:nightly:s1"
    assert out["title"] == "Backup done"
    listed = (await node.http.get("/api/pulse/insights")).json()["insights"]
    card = next(c for c in listed if c["id"] == out["insight_id"])
    assert card["severity"] == "info"
    assert card["what"] == "3 files stored"
    assert card["source"] == "flow Nightly backup"
    assert "flow Nightly backup" in card["why"]
    assert card["node_id"] == node.ctx.identity.node_id
    events = [e.data for e in node.ctx.bus.recent(["flow.notified"])]
    assert events[-1]["insight_id"] == out["insight_id"]
    assert events[-1]["run_id"] == "r1"
    # The same step again replaces its card.
    await run(node, "notify", {"title": "Backup failed", "severity": "critical"})
    listed = (await node.http.get("/api/pulse/insights")).json()["insights"]
    mine = [c for c in listed if c["id"] == out["insight_id"]]
    assert [(c["title"], c["severity"]) for c in mine] == [("Backup failed", "critical")]
    dismissed = await node.http.post(f"/api/pulse/insights/{out['insight_id']}/dismiss")
    assert dismissed.status_code == 200
    assert dismissed.json()["dismissed"]
