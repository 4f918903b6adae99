"""Tasks on one real agent (uvicorn on a free port): lifecycle, output, limits, bad input."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import psutil
import pytest

from agent.core.bus import next_event
from tests.harness import LiveAgent
from tests.tasks.conftest import submit, wait_task


async def test_command_runs_and_its_output_is_kept(live: LiveAgent) -> None:
    async with live.client() as client:
        task = await submit(
            client, command="echo out; echo err >&2; echo more", labels={"team": "a"}
        )
        assert task["state"] == "queued"
        done = await wait_task(client, task["task_id"])
    assert done["state"] == "succeeded"
    assert done["exit_code"] == 0
    assert done["stdout"] == "out\nmore\n"
    assert done["stderr"] == "err\n"
    assert done["node_id"] == live.server.config.app.state.ctx.identity.node_id
    assert done["labels"] == {"team": "a"}
    assert done["started_at"] >= done["scheduled_at"] >= done["submitted_at"]
    assert done["ended_at"] >= done["started_at"]


async def test_non_zero_exit_is_failed(live: LiveAgent) -> None:
    async with live.client() as client:
        task = await submit(client, command="echo oops >&2; exit 3")
        done = await wait_task(client, task["task_id"])
    assert (done["state"], done["exit_code"], done["stderr"]) == ("failed", 3, "oops\n")


async def test_env_and_cwd(live: LiveAgent, tmp_path: Path) -> None:
    async with live.client() as client:
        task = await submit(
            client, command='echo "$GREETING"; pwd', env={"GREETING": "hi"}, cwd=str(tmp_path)
        )
        done = await wait_task(client, task["task_id"])
    assert done["stdout"] == f"hi\n{tmp_path}\n"
    assert done["env"] == ["GREETING"]


async def test_missing_cwd_fails_with_a_reason(live: LiveAgent) -> None:
    async with live.client() as client:
        task = await submit(client, command="true", cwd="/no/such/dir")
        done = await wait_task(client, task["task_id"])
    assert done["state"] == "failed"
    assert "/no/such/dir" in done["error"]


async def test_timeout_kills_the_command(live: LiveAgent) -> None:
    async with live.client() as client:
        task = await submit(client, command="sleep 30", timeout_s=0.3)
        done = await wait_task(client, task["task_id"])
    assert done["state"] == "timed_out"
    assert done["signal"] is not None


async def test_cancel_leaves_no_process_behind(live: LiveAgent) -> None:
    async with live.client() as client:
        task = await submit(client, command="sleep 1000 & sleep 1000")
        running = await wait_task(client, task["task_id"], {"running"})
        group = running_group(running)
        response = await client.delete(f"/api/tasks/{task['task_id']}")
        assert response.status_code == 200
        done = await wait_task(client, task["task_id"])
        assert done["state"] == "cancelled"
        assert not alive_in_group(group)
        again = await client.delete(f"/api/tasks/{task['task_id']}")
        assert again.status_code == 409
        assert again.json()["error_code"] == "TASK_FINISHED"


def running_group(task: dict) -> int:
    # The shell runs in its own session, so its pid is the process group id.
    assert task["pid"], task
    return int(task["pid"])


def alive_in_group(group: int) -> list[psutil.Process]:
    """Processes of the group still running (killed children reparented to init may linger
    as zombies until init reaps them; they run nothing)."""
    alive = []
    for process in psutil.process_iter():
        try:
            if _pgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


async def test_cancel_a_queued_task(tmp_path: Path) -> None:
    from tests.harness import live_agent, make_settings

    async with live_agent(make_settings(tmp_path, max_tasks=1)) as agent, agent.client() as c:
        blocker = await submit(c, command="sleep 1000")
        await wait_task(c, blocker["task_id"], {"running"})
        waiting = await submit(c, command="echo never")
        assert (await c.get(f"/api/tasks/{waiting['task_id']}")).json()["state"] == "queued"
        assert (await c.delete(f"/api/tasks/{waiting['task_id']}")).status_code == 200
        assert (await wait_task(c, waiting["task_id"]))["state"] == "cancelled"
        stats = (await c.get("/api/scheduler/stats")).json()
        assert stats["queue_depth"] == 0
        assert stats["in_flight"] == 1
        await c.delete(f"/api/tasks/{blocker['task_id']}")
        await wait_task(c, blocker["task_id"])


async def test_output_is_capped_at_10_mib_per_stream(live: LiveAgent) -> None:
    async with live.client(timeout=60) as client:
        task = await submit(client, command="head -c 11000000 /dev/zero | tr '\\0' a")
        done = await wait_task(client, task["task_id"], within=60)
        assert done["stdout_bytes"] == 11_000_000
        assert done["truncated"] is True
        assert done["stdout_complete"] is False
        assert len(done["stdout"]) == 64 * 1024
        full = (await client.get(f"/api/tasks/{task['task_id']}?full=true")).json()
    assert full["stdout"].startswith("a" * 1000)
    kept = full["stdout"].split("\n[")[0]
    assert len(kept) == 10 * 1024 * 1024
    assert "truncated" in full["stdout"][-200:]


async def test_logs_stream_live_then_end(live: LiveAgent, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    command = f"echo one; while [ ! -e {flag} ]; do sleep 0.01; done; echo two >&2; echo three"
    async with live.client() as client:
        task = await submit(client, command=command)
        events: list[tuple[str, str, dict]] = []
        async with client.stream("GET", f"/api/tasks/{task['task_id']}/logs") as response:
            assert response.status_code == 200
            async for event in _sse(response):
                events.append(event)
                if event[0] == "stdout" and event[2]["text"] == "one\n":
                    flag.touch()
                if event[0] == "end":
                    break
    kinds = [(e[0], e[2].get("text")) for e in events[:-1]]
    assert kinds == [("stdout", "one\n"), ("stderr", "two\n"), ("stdout", "three\n")]
    assert events[-1][2]["state"] == "succeeded"
    ids = [int(e[1]) for e in events[:-1]]
    assert ids == sorted(ids)


async def test_logs_replay_and_resume(live: LiveAgent) -> None:
    async with live.client() as client:
        task = await submit(client, command="for i in 1 2 3; do echo $i; done")
        await wait_task(client, task["task_id"])
        url = f"/api/tasks/{task['task_id']}/logs"
        async with client.stream("GET", url) as response:
            events = [e async for e in _sse(response)]
        text = "".join(e[2]["text"] for e in events if e[0] == "stdout")
        assert text == "1\n2\n3\n"
        assert events[-1][0] == "end"
        first_id = next(e[1] for e in events if e[0] == "stdout")
        async with client.stream("GET", url, headers={"Last-Event-ID": first_id}) as response:
            resumed = [e async for e in _sse(response)]
        assert all(int(e[1]) > int(first_id) for e in resumed if e[0] == "stdout")


async def _sse(response):
    event, ident, data = None, None, None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and event is not None:
            yield event, ident, data
            event, ident, data = None, None, None


async def test_list_and_filters(live: LiveAgent) -> None:
    async with live.client() as client:
        ok = await submit(client, command="true")
        bad = await submit(client, command="false")
        await wait_task(client, ok["task_id"])
        await wait_task(client, bad["task_id"])
        everything = (await client.get("/api/tasks")).json()
        assert everything["count"] == everything["total"] == 2
        assert everything["tasks"][0]["task_id"] == bad["task_id"]  # newest first
        failed = (await client.get("/api/tasks?status=failed")).json()
        assert [t["task_id"] for t in failed["tasks"]] == [bad["task_id"]]
        page = (await client.get("/api/tasks?limit=1&offset=1")).json()
        assert [t["task_id"] for t in page["tasks"]] == [ok["task_id"]]
        node = ok_node = (await client.get(f"/api/tasks/{ok['task_id']}")).json()["node_id"]
        assert (await client.get(f"/api/tasks?node={node}")).json()["total"] == 2
        assert ok_node
        stats = (await client.get("/api/scheduler/stats")).json()
        assert stats["totals"] == {"succeeded": 1, "failed": 1}
        assert stats["dispatch_latency_ms"]["samples"] == 2
        assert stats["nodes"][0]["breaker"]["state"] == "closed"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"command": ""},
        {"command": "   "},
        {"command": 5},
        {"command": "true", "timeout_s": "1"},
        {"command": "true", "timeout_s": -1},
        {"command": "true", "retries": -1},
        {"command": "true", "retries": 1.5},
        {"command": "true", "env": {"A": 1}},
        {"command": "true", "env": {"A=B": "x"}},
        {"command": "true", "cwd": "relative/dir"},
        {"command": "true", "labels": ["x"]},
        {"command": "true", "surprise": True},
        {"command": "a\u0000b"},
    ],
)
async def test_bad_submissions_are_400_and_create_nothing(live: LiveAgent, body: dict) -> None:
    async with live.client() as client:
        response = await client.post("/api/tasks", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error_code"] == "VALIDATION_ERROR"
        assert (await client.get("/api/tasks")).json()["total"] == 0


async def test_unknown_preferred_node_is_422(live: LiveAgent) -> None:
    async with live.client() as client:
        response = await client.post(
            "/api/tasks", json={"command": "true", "preferred_node": "nope"}
        )
        assert response.status_code == 422
        assert response.json()["error_code"] == "UNKNOWN_NODE"


async def test_unknown_task_and_bad_queries(live: LiveAgent) -> None:
    async with live.client() as client:
        for method in ("GET", "DELETE"):
            response = await client.request(method, "/api/tasks/tnope")
            assert response.status_code == 404
            assert response.json()["error_code"] == "TASK_NOT_FOUND"
        assert (await client.get("/api/tasks/tnope/logs")).status_code == 404
        for query in ("status=bogus", "limit=0", "limit=x", "offset=-1", "colour=red"):
            assert (await client.get(f"/api/tasks?{query}")).status_code == 400, query
        assert (await client.post("/api/tasks", content=b"{bad")).status_code == 400


@pytest.mark.slow
async def test_many_quick_tasks(live: LiveAgent) -> None:
    async with live.client() as client:
        tasks = await asyncio.gather(*(submit(client, command="true") for _ in range(50)))
        for task in tasks:
            assert (await wait_task(client, task["task_id"]))["state"] == "succeeded"


async def test_every_transition_is_published(live: LiveAgent) -> None:
    bus = live.server.config.app.state.bus
    sub = bus.subscribe(["task"])
    async with live.client() as client:
        task = await submit(client, command="true")
        await wait_task(client, task["task_id"])
    topics = []
    # Everything was published before the task was seen finished, so it is all queued here.
    while (event := await next_event(sub, 0.05)) is not None:
        if event.data["task_id"] == task["task_id"]:
            topics.append(event.topic)
    assert topics == ["task.queued", "task.scheduled", "task.running", "task.succeeded"]


@pytest.mark.slow
async def test_following_right_after_submit_always_ends(live: LiveAgent) -> None:
    """Following can race the end of the output; every follow must still see `end`."""

    async def follow_to_end(client, task_id: str) -> str:
        async with client.stream("GET", f"/api/tasks/{task_id}/logs") as response:
            async for event, _, data in _sse(response):
                if event == "end":
                    return data["state"]
        raise AssertionError("log stream closed without an end event")

    async with live.client() as client:
        for _ in range(60):
            task = await submit(client, command="echo x")
            assert await asyncio.wait_for(follow_to_end(client, task["task_id"]), 10) == "succeeded"
