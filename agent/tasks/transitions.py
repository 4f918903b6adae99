"""Task state changes: applied, saved, then published as `task.<state>` (in that order, so
anyone reacting to an event finds the state already stored)."""

from __future__ import annotations

from typing import Any

from agent.core.subsystem import Context
from agent.tasks.models import task_view
from agent.tasks.store import FINAL, Task, TaskStore


class Transitions:
    def __init__(self, ctx: Context, store: TaskStore) -> None:
        self.ctx = ctx
        self.store = store

    async def move(self, task: Task, state: str, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(task, name, value)
        task.state = state
        await self.store.save(task)
        self.ctx.bus.publish(f"task.{state}", task_view(task))

    async def finish(self, task: Task, state: str, **changes: Any) -> None:
        assert state in FINAL
        changes.setdefault("ended_at", None)
        if changes["ended_at"] is None:
            changes["ended_at"] = self.ctx.clock()
        await self.move(task, state, **changes)
