"""HTTP handlers for tasks and the scheduler."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agent.core.bus import EventBus, next_event
from agent.core.http import (
    QueryParam,
    api_route,
    bounded_int,
    json_response,
    parse_query,
    read_json,
)
from agent.core.sse import sse_response
from agent.tasks.logs import FollowerTooSlow
from agent.tasks.models import (
    RUNNING,
    STATES,
    SchedulerStats,
    SubmitTask,
    TaskDetail,
    TaskDetailQuery,
    TaskLogText,
    TaskPage,
    TaskQuery,
    TaskView,
)
from agent.tasks.service import TaskService
from agent.tasks.views import task_view

TAG = "tasks"


def _after_seq(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    if raw is None or not raw.strip():
        return -1
    return bounded_int(raw, "Last-Event-ID (output sequence number)", minimum=-1)


async def _log_events(
    service: TaskService, bus: EventBus, task_id: str, after: int
) -> AsyncIterator[ServerSentEvent]:
    """Output chunks as `stdout`/`stderr` events (id = chunk sequence), across retries, then
    one `end` event with the final task."""
    decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in ("stdout", "stderr")}
    watch = bus.subscribe(["task"])
    try:
        while True:
            try:
                async for seq, stream, data in service.logs.follow(task_id, after):
                    after = seq
                    text = decoders[stream].decode(data)
                    yield ServerSentEvent(
                        data=TaskLogText(text=text).model_dump_json(), event=stream, id=str(seq)
                    )
            except FollowerTooSlow:
                return  # the client reconnects with Last-Event-ID and resumes from the store
            task = await service.task(task_id)
            if task.finished:
                yield ServerSentEvent(data=task_view(task).model_dump_json(), event="end")
                return
            # Queued or scheduled again (e.g. retried after being lost): wait for it to run.
            while not task.finished and task.state != RUNNING:
                event = await next_event(watch, 1.0)
                if watch.closed:
                    return
                if event is None or event.data.get("task_id") == task_id:
                    task = await service.task(task_id)
    finally:
        bus.unsubscribe(watch)


def build_routes(service: TaskService) -> list[BaseRoute]:
    async def submit(request: Request) -> Response:
        body = await read_json(request, SubmitTask)
        return json_response(await service.submit(body), status=201)

    async def list_tasks(request: Request) -> Response:
        return json_response(await service.page(parse_query(request, TaskQuery)))

    async def get_task(request: Request) -> Response:
        query = parse_query(request, TaskDetailQuery)
        return json_response(await service.detail(request.path_params["task_id"], query.full))

    async def cancel_task(request: Request) -> Response:
        return json_response(await service.cancel(request.path_params["task_id"]))

    async def logs(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        await service.task(task_id)
        stream = _log_events(service, request.app.state.bus, task_id, _after_seq(request))
        return sse_response(request, stream)

    async def stats(request: Request) -> Response:
        return json_response(service.stats())

    return [
        api_route(
            "/api/tasks",
            submit,
            success=201,
            methods=["POST"],
            tag=TAG,
            body=SubmitTask,
            answer=TaskView,
            summary="Submit a shell command; it is queued at once and placed by the "
            "scheduler. `retries` is how often a lost task is dispatched again.",
            responses={409: "NODE_OFFLINE", 422: "UNKNOWN_NODE | REMOTE_EXEC_DISABLED"},
        ),
        api_route(
            "/api/tasks",
            list_tasks,
            methods=["GET"],
            tag=TAG,
            answer=TaskPage,
            summary="Active and past tasks, newest first.",
            query=[
                QueryParam("status", enum=STATES),
                QueryParam("node"),
                QueryParam("limit", "integer"),
                QueryParam("offset", "integer"),
            ],
        ),
        api_route(
            "/api/tasks/{task_id}",
            get_task,
            methods=["GET"],
            tag=TAG,
            answer=TaskDetail,
            summary="A task's state, node, exit code, timings and output (the last "
            "64 KiB of each stream unless ?full=true).",
            query=[QueryParam("full", "boolean")],
            responses={404: "TASK_NOT_FOUND"},
        ),
        api_route(
            "/api/tasks/{task_id}",
            cancel_task,
            methods=["DELETE"],
            tag=TAG,
            answer=TaskView,
            summary="Cancel a task: SIGTERM to its process group, SIGKILL after 5 s.",
            responses={404: "TASK_NOT_FOUND", 409: "TASK_FINISHED"},
        ),
        api_route(
            "/api/tasks/{task_id}/logs",
            logs,
            methods=["GET"],
            tag=TAG,
            streams=True,
            summary="Follow a task's output live (SSE), replaying what was already "
            "written; resumable with Last-Event-ID.",
            responses={404: "TASK_NOT_FOUND"},
        ),
        api_route(
            "/api/scheduler/stats",
            stats,
            methods=["GET"],
            tag=TAG,
            answer=SchedulerStats,
            summary="Queue depth, tasks in flight, per-node breakers and load, dispatch "
            "latency and totals by outcome.",
        ),
    ]
