"""This node's servers: their configuration (store and credential file), their supervisors,
and the views the routes answer. Every change is checked in full before anything is written:
bad input changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from agent.core.bus import EventBus
from agent.core.errors import BadRequest, Conflict, NotFound
from agent.core.metrics import Metrics
from agent.mcp.backoff import Backoff
from agent.mcp.builtins import BUILTINS, resolve_builtin
from agent.mcp.credentials import CredentialVault
from agent.mcp.events import MCP_SERVER_CHANGED, MCP_SERVER_STATE, ServerChanged, ServerStateChanged
from agent.mcp.models import (
    MAX_SERVERS,
    MAX_STDERR_LINES,
    BuiltinList,
    CreateServerBody,
    HttpTransport,
    HttpTransportView,
    McpServer,
    ServerChange,
    ServerDeleted,
    ServerList,
    StdioTransportView,
)
from agent.mcp.store import DuplicateServer, ServerRecord, ServerStore
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.mcp.runtime import ServerRuntime


class McpService:
    def __init__(
        self,
        store: ServerStore,
        vault: CredentialVault,
        bus: EventBus,
        metrics: Metrics,
        settings: Settings,
        node_id: str,
        *,
        backoff: Backoff,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.vault = vault
        self.bus = bus
        self.settings = settings
        self.node_id = node_id
        self.backoff = backoff
        self.clock = clock
        self.records: dict[str, ServerRecord] = {}
        self.runtimes: dict[str, ServerRuntime] = {}
        self.calls = metrics.counter(
            "mcp_tool_calls", "MCP tool calls run on this node, by outcome", ["outcome"]
        )
        self.restarts = metrics.counter(
            "mcp_server_restarts", "Restarts of MCP servers on this node after they died"
        )
        self._lock = anyio.Lock()
        self._group: anyio.abc.TaskGroup | None = None

    async def load(self) -> None:
        self.records = {record.name: record for record in await self.store.all()}

    async def run(self) -> None:
        """Host the supervisors until cancelled (agent shutdown), then close every session."""
        async with anyio.create_task_group() as group:
            self._group = group
            for record in self.records.values():
                if record.enabled:
                    self._supervise(record)
            try:
                await anyio.sleep_forever()
            finally:
                self._group = None
                with anyio.CancelScope(shield=True):
                    await self._close_all()

    async def _close_all(self) -> None:
        async with anyio.create_task_group() as closing:
            for name in list(self.runtimes):
                closing.start_soon(self._stop, name)

    def reap(self) -> None:
        for runtime in self.runtimes.values():
            runtime.reap()

    def _supervise(self, record: ServerRecord) -> ServerRuntime:
        # The SDK comes with the first supervisor: an agent with no MCP server never loads it.
        from agent.mcp.runtime import ServerRuntime

        runtime = ServerRuntime(
            record,
            lambda: self.vault.read(record.name),
            start_timeout=self.settings.mcp_start_timeout,
            backoff=self.backoff,
            on_state=self._state_changed,
            on_restart=self.restarts.inc,
            clock=self.clock,
        )
        self.runtimes[record.name] = runtime
        if self._group is None:
            raise RuntimeError("the mcp subsystem is not running")
        self._group.start_soon(runtime.run)
        return runtime

    async def _stop(self, name: str) -> None:
        runtime = self.runtimes.get(name)
        if runtime is not None:
            await runtime.close()
            if self.runtimes.get(name) is runtime:
                del self.runtimes[name]

    # -- configuration ----------------------------------------------------------------------

    def record(self, name: str) -> ServerRecord:
        record = self.records.get(name)
        if record is None:
            raise NotFound(f"no MCP server {name!r} on this node", code="MCP_SERVER_NOT_FOUND")
        return record

    async def create(self, body: CreateServerBody) -> McpServer:
        transport = body.transport
        name = body.name
        if body.builtin is not None:
            spec = await resolve_builtin(body.builtin, body.options, self.settings.home)
            transport = spec.build(body.options, self.settings.home)
            name = name or spec.name
        if transport is None or name is None:  # the body's validator makes this unreachable
            raise BadRequest("give either `builtin`, or `name` and `transport`")
        async with self._lock:
            if name in self.records:
                raise Conflict(f"an MCP server {name!r} exists already", code="MCP_SERVER_EXISTS")
            if len(self.records) >= MAX_SERVERS:
                raise Conflict(
                    f"this node has {MAX_SERVERS} MCP servers, the most it keeps",
                    code="MCP_SERVERS_FULL",
                )
            record = ServerRecord(
                name=name,
                description=body.description
                or (BUILTINS[body.builtin].description if body.builtin else ""),
                builtin=body.builtin,
                transport=transport,
                credential_names=tuple(sorted(body.credentials)),
                enabled=body.enabled,
                created_at=self.clock(),
            )
            await self.vault.put(name, dict(body.credentials))
            try:
                await self.store.add(record)
            except DuplicateServer:
                raise Conflict(
                    f"an MCP server {name!r} exists already", code="MCP_SERVER_EXISTS"
                ) from None
            self.records[name] = record
            if record.enabled:
                self._supervise(record)
            self._changed(name, "added")
        return self.view(record)

    async def delete(self, name: str) -> ServerDeleted:
        async with self._lock:
            self.record(name)
            await self._stop(name)
            await self.store.remove(name)
            await self.vault.drop(name)
            del self.records[name]
            self._changed(name, "removed")
        return ServerDeleted(name=name, deleted=True)

    async def toggle(self, name: str, enabled: bool | None) -> McpServer:
        async with self._lock:
            record = self.record(name)
            wanted = not record.enabled if enabled is None else enabled
            if wanted != record.enabled:
                await self.store.set_enabled(name, wanted)
                record = replace(record, enabled=wanted)
                self.records[name] = record
                if wanted:
                    self._supervise(record)
                else:
                    await self._stop(name)
                self._changed(name, "enabled" if wanted else "disabled")
        return self.view(record)

    # -- views ------------------------------------------------------------------------------

    def listing(self) -> ServerList:
        servers = [self.view(record) for record in self.records.values()]
        return ServerList(servers=servers, count=len(servers))

    def builtins(self) -> BuiltinList:
        views = [spec.view() for spec in BUILTINS.values()]
        return BuiltinList(builtins=views, count=len(views))

    def view(self, record: ServerRecord) -> McpServer:
        runtime = self.runtimes.get(record.name)
        status = runtime.status if runtime is not None else None
        transport = record.transport
        shown: StdioTransportView | HttpTransportView = (
            HttpTransportView(type="http", url=transport.url, headers=dict(transport.headers))
            if isinstance(transport, HttpTransport)
            else StdioTransportView(
                type="stdio",
                command=transport.command,
                args=list(transport.args),
                env=dict(transport.env),
                cwd=transport.cwd,
            )
        )
        return McpServer(
            name=record.name,
            description=record.description,
            builtin=record.builtin,
            transport=shown,
            credential_names=list(record.credential_names),
            enabled=record.enabled,
            node_id=self.node_id,
            state=status.state if status else "stopped",
            reason=status.reason if status else None,
            restarts=status.restarts if status else 0,
            next_restart_at=status.next_restart_at if status else None,
            tool_count=status.tool_count if status else None,
            server_info=status.server_info if status else None,
            started_at=status.started_at if status else None,
            stderr_tail=runtime.ring.tail(MAX_STDERR_LINES) if runtime else [],
        )

    def _changed(self, name: str, change: ServerChange) -> None:
        self.bus.publish(
            MCP_SERVER_CHANGED, ServerChanged(name=name, node_id=self.node_id, change=change)
        )

    def _state_changed(self, runtime: ServerRuntime) -> None:
        status = runtime.status
        self.bus.publish(
            MCP_SERVER_STATE,
            ServerStateChanged(
                name=runtime.record.name,
                node_id=self.node_id,
                state=status.state,
                reason=status.reason,
                restarts=status.restarts,
                tool_count=status.tool_count,
            ),
        )
