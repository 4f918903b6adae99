"""Task state changes: applied, saved, then published as `task.<state>` (in that order, so
anyone reacting to an event finds the state already stored). A change of state clears the
task's `state_detail`; `note()` sets it, and publishes `task.<state>` again."""

from __future__ import annotations

from typing import Any

from agent.core.subsystem import Context
from agent.tasks.events import TASK_TOPICS
from agent.tasks.store import FINAL, Task, TaskStore
from agent.tasks.views import task_view


class Transitions:
    def __init__(self, ctx: Context, store: TaskStore) -> None:
        self.ctx = ctx
        self.store = store

    async def move(self, task: Task, state: str, **changes: Any) -> None:
        topic = TASK_TOPICS[state]  # an unknown state fails here, before anything changes
        if state != task.state:
            changes.setdefault("state_detail", None)
        for name, value in changes.items():
            setattr(task, name, value)
        task.state = state
        await self.store.save(task)
        self.ctx.bus.publish(topic, task_view(task))

    async def note(self, task: Task, detail: str | None) -> None:
        """Say why the task is in its state (e.g. why it waits)."""
        await self.move(task, task.state, state_detail=detail)

    async def finish(self, task: Task, state: str, **changes: Any) -> None:
        assert state in FINAL
        changes.setdefault("ended_at", None)
        if changes["ended_at"] is None:
            changes["ended_at"] = self.ctx.clock()
        await self.move(task, state, **changes)
