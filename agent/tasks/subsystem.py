"""The tasks subsystem object and `create(ctx)`; see the package docstring."""

from __future__ import annotations

from starlette.routing import BaseRoute

from agent.core.subsystem import Context
from agent.tasks.account import resolve_account
from agent.tasks.breaker import BreakerBoard
from agent.tasks.containment import TaskCgroups, TaskJail
from agent.tasks.events import SCHEDULER_BREAKER, BreakerChange
from agent.tasks.logs import TaskLogs
from agent.tasks.models import BreakerSnapshot
from agent.tasks.peer_routes import RemoteRuns, build_peer_routes
from agent.tasks.retention import TaskRetention
from agent.tasks.routes import build_routes
from agent.tasks.scheduler import Scheduler, local_limit
from agent.tasks.service import TaskService
from agent.tasks.slots import Slots
from agent.tasks.store import TaskStore
from agent.tasks.transitions import Transitions


class TasksSubsystem:
    name = "tasks"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = TaskStore(ctx.db)
        # Raises SettingsError (the agent must not start) when tasks cannot run as task_user.
        self.jail = TaskJail(resolve_account(ctx.settings.task_user), ctx.settings.home)
        self.logs = TaskLogs(self.store)
        transitions = Transitions(ctx, self.store)
        # One pool of task slots for this node, shared by its own and other members' tasks.
        self.slots = Slots(local_limit(ctx))
        self.breakers = BreakerBoard(on_change=self._breaker_changed)
        self.scheduler = Scheduler(
            ctx,
            transitions,
            self.logs,
            self.breakers,
            self.slots,
            self.jail,
        )
        self.service = TaskService(ctx, self.store, self.logs, transitions, self.scheduler)
        self.remote = RemoteRuns(ctx, self.slots, self.store, self.jail)
        self.retention = TaskRetention(ctx, self.store, self._in_memory)

    def _in_memory(self) -> set[str]:
        return {*self.scheduler.queue, *self.scheduler.inflight}

    def _breaker_changed(self, node_id: str, old: str, new: str) -> None:
        snapshot = BreakerSnapshot(**self.breakers.get(node_id).snapshot())
        change = BreakerChange(node_id=node_id, from_=old, to=new, breaker=snapshot)
        self.ctx.bus.publish(SCHEDULER_BREAKER, change)

    def routes(self) -> list[BaseRoute]:
        return build_routes(self.service)

    def peer_routes(self) -> list[BaseRoute]:
        return build_peer_routes(self.ctx, self.remote)

    async def start(self) -> None:
        await self.store.migrate()
        self.jail.cgroups = TaskCgroups.detect(self.ctx.identity.node_id)
        await self.service.recover(self.jail.cgroups)
        self.ctx.spawn("tasks.scheduler", self.scheduler.run)
        self.ctx.spawn("tasks.retention", self.retention.run)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.logs.drain()
        if self.jail.cgroups is not None:
            self.jail.cgroups.close()


def create(ctx: Context) -> TasksSubsystem:
    return TasksSubsystem(ctx)
