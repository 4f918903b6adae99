"""Task calls (submit, list, inspect, cancel, follow output, scheduler stats), mixed into
`AgentClient`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from agent.client.errors import ApiError, StreamEndedEarly
from agent.client.events import LogEvent
from agent.client.transport import Transport
from agent.client.types import LogStream
from agent.tasks.models import SchedulerStats, TaskDetail, TaskLogText, TaskPage, TaskView

M = TypeVar("M", bound=BaseModel)
# Early closes in a row, without new output between them, before `task_logs` gives up.
MAX_EARLY_CLOSES = 3


def _task_path(task_id: str) -> str:
    return f"/api/tasks/{quote(task_id, safe='')}"


class TasksMixin(Transport):
    async def submit_task(
        self,
        command: str,
        *,
        node: str | None = None,
        wait_for_node: bool = True,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        retries: int = 0,
        labels: Mapping[str, str] | None = None,
    ) -> TaskView:
        """Queue a shell command for the scheduler to place (on `node` when given); `retries`:
        how often a task lost with its node runs again. Refusals: VALIDATION_ERROR,
        UNKNOWN_NODE, REMOTE_EXEC_DISABLED, NODE_OFFLINE (`node` offline, not waiting)."""
        body: dict[str, Any] = {"command": command, "wait_for_node": wait_for_node}
        optional = {"preferred_node": node, "timeout_s": timeout_s, "cwd": cwd}
        body.update({key: value for key, value in optional.items() if value is not None})
        body.update(env=dict(env or {}), retries=retries, labels=dict(labels or {}))
        response = await self._request("POST", "/api/tasks", json_body=body)
        return self._model(response, TaskView)

    async def tasks(
        self, status: str | None = None, node: str | None = None, limit: int = 50, offset: int = 0
    ) -> TaskPage:
        """One page of tasks, newest first, optionally only those in `status` or on `node`."""
        params = {"limit": str(limit), "offset": str(offset)}
        params.update({k: v for k, v in (("status", status), ("node", node)) if v is not None})
        return self._model(await self._request("GET", "/api/tasks", params=params), TaskPage)

    async def task(self, task_id: str, full: bool = False) -> TaskDetail:
        """A task with its output (the last 64 KiB of each stream unless `full`)."""
        params = {"full": "true" if full else "false"}
        response = await self._request("GET", _task_path(task_id), params=params)
        return self._model(response, TaskDetail)

    async def cancel_task(self, task_id: str) -> TaskView:
        """Cancel a task (TASK_NOT_FOUND, TASK_FINISHED); a running one ends soon after."""
        return self._model(await self._request("DELETE", _task_path(task_id)), TaskView)

    async def task_logs(
        self, task_id: str, after: int | None = None
    ) -> AsyncGenerator[LogEvent, None]:
        """A task's output as it is written, then one `end` event with the final task.

        Replays what was already written (after chunk `after`, when given) first. A stream the
        agent closes early (a follower that fell too far behind is cut off) is resumed from the
        last chunk received; after three early closes without new output it gives up. An
        event of another shape than the agent publishes raises `ApiError` INVALID_RESPONSE.
        """
        path, what = f"{_task_path(task_id)}/logs", f"log stream of task {task_id}"
        closed_early = 0
        while True:
            stream = self._stream("GET", path, what, last_event_id=after, until="end")
            try:
                async with aclosing(stream):
                    async for event in stream:
                        if event.topic == "end":
                            yield LogEvent("end", None, task=self._event(event.data, TaskView))
                            return
                        if event.topic in ("stdout", "stderr"):
                            text = self._event(event.data, TaskLogText).text
                            after, closed_early = event.id, 0
                            kind: LogStream = "stdout" if event.topic == "stdout" else "stderr"
                            yield LogEvent(kind, event.id, text)
            except StreamEndedEarly:
                closed_early += 1
                if closed_early >= MAX_EARLY_CLOSES:
                    raise StreamEndedEarly(f"the agent closed the {what} early") from None

    async def scheduler_stats(self) -> SchedulerStats:
        """Queue depth, tasks in flight, per-node load and breakers, dispatch latency."""
        return await self._get_model("/api/scheduler/stats", SchedulerStats)

    def _event(self, data: Any, model: type[M]) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ApiError(
                200,
                "INVALID_RESPONSE",
                f"the agent at {self.base_url} sent a log event that is not a "
                f"{model.__name__}: {exc.errors(include_url=False)[0]['msg']}",
            ) from None
