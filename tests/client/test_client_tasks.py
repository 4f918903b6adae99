"""The SDK's task calls without an agent (httpx MockTransport): requests, the models answers
are read as, log SSE parsing and resuming a dropped log stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agent.client import (
    AgentClient,
    ApiError,
    LogEvent,
    SchedulerStats,
    StreamEndedEarly,
    Task,
    TaskDetail,
    TaskPage,
)

TASK: dict[str, Any] = {
    "task_id": "t0123456789abcdef",
    "command": "echo hi",
    "state": "queued",
    "state_detail": None,
    "node_id": None,
    "pid": None,
    "preferred_node": None,
    "wait_for_node": True,
    "exit_code": None,
    "signal": None,
    "error": None,
    "timeout_s": None,
    "retries": 0,
    "attempts": 0,
    "labels": {},
    "cwd": None,
    "env": [],
    "submitted_at": 1700000000.0,
    "scheduled_at": None,
    "started_at": None,
    "ended_at": None,
    "duration_s": None,
    "stdout_bytes": 0,
    "stderr_bytes": 0,
    "truncated": False,
}
STATS: dict[str, Any] = {
    "queue_depth": 1,
    "in_flight": 2,
    "running": 1,
    "nodes": [
        {
            "node_id": "n1" * 12,
            "name": "laptop",
            "state": "online",
            "running": 1,
            "limit": 2,
            "breaker": {
                "node_id": "n1" * 12,
                "state": "open",
                "consecutive_failures": 3,
                "opened_count": 1,
                "open_for_s": 30.0,
                "next_retry_at": 1700000030.0,
                "retry_in_s": 12.5,
                "last_failure_at": 1700000000.0,
                "probe_in_flight": False,
            },
        }
    ],
    "dispatch_latency_ms": {"p50": 3.25, "p99": 40.0, "samples": 9},
    "totals": {"succeeded": 7, "failed": 2},
}


class Recorder:
    """A MockTransport handler answering `body` and keeping every request it saw."""

    def __init__(self, body: Any, status: int = 200) -> None:
        self.body, self.status = body, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    def client(self) -> AgentClient:
        return AgentClient("http://agent.test", "secret", transport=httpx.MockTransport(self))

    @property
    def only(self) -> httpx.Request:
        (request,) = self.requests
        return request


def error(code: str, message: str = "refused") -> dict[str, Any]:
    return {"success": False, "error": message, "error_code": code, "details": {}}


# --- requests ------------------------------------------------------------------------------


async def test_submit_task_sends_only_what_is_set() -> None:
    recorder = Recorder(TASK, 201)
    async with recorder.client() as client:
        task = await client.submit_task("echo hi")
    assert isinstance(task, Task)
    assert task.model_dump(mode="json") == TASK
    request = recorder.only
    assert (request.method, request.url.path) == ("POST", "/api/tasks")
    assert request.headers["authorization"] == "Bearer secret"
    assert json.loads(request.content) == {
        "command": "echo hi",
        "wait_for_node": True,
        "env": {},
        "retries": 0,
        "labels": {},
    }


async def test_submit_task_with_every_option() -> None:
    recorder = Recorder(TASK, 201)
    async with recorder.client() as client:
        await client.submit_task(
            "make",
            node="n1",
            wait_for_node=False,
            timeout_s=2.5,
            env={"A": "1"},
            cwd="/srv",
            retries=3,
            labels={"team": "x"},
        )
    assert json.loads(recorder.only.content) == {
        "command": "make",
        "preferred_node": "n1",
        "wait_for_node": False,
        "timeout_s": 2.5,
        "env": {"A": "1"},
        "cwd": "/srv",
        "retries": 3,
        "labels": {"team": "x"},
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "VALIDATION_ERROR"),
        (422, "UNKNOWN_NODE"),
        (422, "REMOTE_EXEC_DISABLED"),
        (409, "NODE_OFFLINE"),
    ],
)
async def test_submit_task_refusals_are_api_errors(status: int, code: str) -> None:
    async with Recorder(error(code, "no"), status).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.submit_task("true", node="n9")
    assert (caught.value.status, caught.value.code) == (status, code)


async def test_tasks_sends_the_filters() -> None:
    page = {"tasks": [TASK], "count": 1, "total": 1, "limit": 5, "offset": 10}
    recorder = Recorder(page)
    async with recorder.client() as client:
        read = await client.tasks()
        await client.tasks(status="failed", node="n1", limit=5, offset=10)
    assert isinstance(read, TaskPage)
    assert isinstance(read.tasks[0], Task)
    assert read.model_dump(mode="json") == page
    first, second = recorder.requests
    assert dict(first.url.params) == {"limit": "50", "offset": "0"}
    assert dict(second.url.params) == {
        "limit": "5",
        "offset": "10",
        "status": "failed",
        "node": "n1",
    }


async def test_task_and_cancel_quote_the_id() -> None:
    detail = {**TASK, "stdout": "hi\n", "stderr": "", "stdout_complete": True}
    detail["stderr_complete"] = False
    recorder = Recorder(detail)
    async with recorder.client() as client:
        read = await client.task("a/b")
        await client.task("a/b", full=True)
        cancelled = await client.cancel_task("a/b")
    assert isinstance(read, TaskDetail)
    assert read.model_dump(mode="json") == detail
    assert type(cancelled) is Task  # read as the task alone: the output is not kept
    plain, full, cancel = recorder.requests
    assert (plain.method, plain.url.raw_path) == ("GET", b"/api/tasks/a%2Fb?full=false")
    assert full.url.params["full"] == "true"
    assert (cancel.method, cancel.url.raw_path) == ("DELETE", b"/api/tasks/a%2Fb")


async def test_cancel_of_a_finished_task() -> None:
    async with Recorder(error("TASK_FINISHED", "task t1 already ended"), 409).client() as client:
        with pytest.raises(ApiError, match=r"already ended \(TASK_FINISHED\)"):
            await client.cancel_task("t1")


async def test_scheduler_stats() -> None:
    recorder = Recorder(STATS)
    async with recorder.client() as client:
        stats = await client.scheduler_stats()
    assert isinstance(stats, SchedulerStats)
    assert stats.nodes[0].breaker.retry_in_s == 12.5
    assert stats.model_dump(mode="json") == STATS
    assert (recorder.only.method, recorder.only.url.path) == ("GET", "/api/scheduler/stats")


async def test_an_older_agents_task_reads_and_a_newer_ones_fields_are_ignored() -> None:
    older = {k: v for k, v in TASK.items() if k != "state_detail"}
    async with Recorder({**older, "priority": 3}, 201).client() as client:
        task = await client.submit_task("echo hi")
    assert task.state_detail is None
    assert task.model_dump(mode="json") == TASK


@pytest.mark.parametrize(
    "body",
    [
        {**TASK, "state": "sleeping"},
        {k: v for k, v in TASK.items() if k != "task_id"},
        {**TASK, "env": {"SECRET": "value"}},
        [TASK],
    ],
)
async def test_an_answer_of_another_shape_is_an_invalid_response(body: Any) -> None:
    async with Recorder(body, 201).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.submit_task("echo hi")
    assert caught.value.code == "INVALID_RESPONSE"
    assert "TaskView" in caught.value.message


async def test_stats_of_another_shape_are_an_invalid_response() -> None:
    broken = {**STATS, "nodes": [{**STATS["nodes"][0], "breaker": {"state": "ajar"}}]}
    async with Recorder(broken).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.scheduler_stats()
    assert caught.value.code == "INVALID_RESPONSE"
    assert "nodes.0.breaker" in caught.value.message


# --- task logs ---------------------------------------------------------------------------


def sse(*parts: bytes) -> httpx.Response:
    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return httpx.Response(200, content=chunks(), headers={"content-type": "text/event-stream"})


END = b"event: end\r\ndata: " + json.dumps({**TASK, "state": "succeeded"}).encode() + b"\r\n\r\n"


async def test_task_logs_parses_output_and_the_end() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sse(
            b": ping\r\n\r\nid: 4\r\nevent: stdout\r\nda",
            b'ta: {"text": "line one\\n"}\r\n\r\nid: 5\r\nevent: std',
            b'err\r\ndata: {"text": "oops"}\r\n\r\n',
            b'id: 6\nevent: stdout\ndata: {"text": "\\u00e9t\\u00e9\\n"}\n\n',
            END,
        )

    async with AgentClient("http://agent.test", transport=httpx.MockTransport(handler)) as c:
        events = [event async for event in c.task_logs("t1", after=3)]
    assert events[:3] == [
        LogEvent("stdout", 4, "line one\n"),
        LogEvent("stderr", 5, "oops"),
        LogEvent("stdout", 6, "été\n"),
    ]
    end = events[3]
    assert (end.stream, end.seq, end.text) == ("end", None, "")
    assert end.task is not None
    assert isinstance(end.task, Task)
    assert end.task.state == "succeeded"
    (request,) = seen
    assert request.url.path == "/api/tasks/t1/logs"
    assert request.headers["last-event-id"] == "3"
    assert request.headers["accept"] == "text/event-stream"


async def test_task_logs_resumes_a_stream_dropped_before_the_end() -> None:
    seen: list[httpx.Request] = []
    answers = [
        sse(b'id: 0\nevent: stdout\ndata: {"text": "a"}\n\n'),
        sse(b'id: 1\nevent: stdout\ndata: {"text": "b"}\n\n', END),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    async with AgentClient("http://agent.test", transport=httpx.MockTransport(handler)) as c:
        texts = [event.text async for event in c.task_logs("t1")]
    assert texts == ["a", "b", ""]
    assert "last-event-id" not in seen[0].headers
    assert seen[1].headers["last-event-id"] == "0"


async def test_task_logs_gives_up_on_streams_that_end_empty() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sse(b": ping\n\n")

    async with AgentClient("http://agent.test", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(StreamEndedEarly, match="closed the log stream of task t1 early"):
            _ = [event async for event in c.task_logs("t1")]
    assert len(seen) == 3


async def test_task_logs_of_an_unknown_task() -> None:
    async with Recorder(error("TASK_NOT_FOUND", "no task 'tx'"), 404).client() as client:
        with pytest.raises(ApiError) as caught:
            _ = [event async for event in client.task_logs("tx")]
    assert caught.value.code == "TASK_NOT_FOUND"


@pytest.mark.parametrize(
    "event",
    [
        b'id: 0\nevent: stdout\ndata: {"txt": "a"}\n\n',
        b'event: end\ndata: {"state": "succeeded"}\n\n',
    ],
)
async def test_a_log_event_of_another_shape_is_an_invalid_response(event: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return sse(event, END)

    async with AgentClient("http://agent.test", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(ApiError) as caught:
            _ = [e async for e in c.task_logs("t1")]
    assert caught.value.code == "INVALID_RESPONSE"
