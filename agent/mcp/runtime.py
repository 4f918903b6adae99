"""One server's supervisor: starts it on demand, keeps its session, restarts it with backoff
when it dies after being ready, and closes it cleanly (stdin closed then the group killed for
stdio, the session DELETE for streamable HTTP) with no process of its group left behind.

The supervisor task runs shielded: only `close()` ends it, so the agent's shutdown (which
cancels every job) still lets each session close properly within CLOSE_TIMEOUT.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp import Client

from agent.mcp.backoff import Backoff
from agent.mcp.models import ServerInfo, ServerState, StdioTransport
from agent.mcp.outcome import ServerUnavailable
from agent.mcp.reasons import describe
from agent.mcp.stderr import Redactor, StderrPipe, StderrRing
from agent.mcp.store import ServerRecord
from agent.mcp.transport import Connection

log = logging.getLogger("openfabric.mcp")

# The SDK's stdio shutdown is bounded at about 6 s (stdin grace, SIGTERM, SIGKILL).
CLOSE_TIMEOUT = 10.0
STDERR_DRAIN_S = 1.0
GARBAGE_LOG_EVERY = 100


@dataclass(slots=True)
class Status:
    state: ServerState = "stopped"
    reason: str | None = None
    restarts: int = 0
    next_restart_at: float | None = None
    tool_count: int | None = None
    server_info: ServerInfo | None = None
    started_at: float | None = None


class ServerRuntime:
    def __init__(
        self,
        record: ServerRecord,
        credentials: Callable[[], dict[str, str]],
        *,
        start_timeout: float,
        backoff: Backoff,
        on_state: Callable[[ServerRuntime], None],
        on_restart: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.record = record
        self.credentials = credentials
        self.start_timeout = start_timeout
        self.backoff = backoff
        self.on_state = on_state
        self.on_restart = on_restart
        self.clock = clock
        self.status = Status()
        self.tools: list[types.Tool] = []
        self.ring = StderrRing(Redactor(()))
        self.client: Client | None = None
        self.pgid: int | None = None
        self._demand = anyio.Event()
        self._wake = anyio.Event()
        self._settled: anyio.Event | None = None
        self._closing = False
        self._done = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        self._tools_stale = False
        self._garbage = 0
        self._exit_code: int | None = None

    @property
    def redact(self) -> Redactor:
        return self.ring.redact

    # -- what callers use -------------------------------------------------------------------

    async def ready(self) -> Client:
        """The live session, starting the server first if needed (bounded by its start)."""
        if self.status.state == "ready" and self.client is not None:
            return self.client
        if self._closing:
            raise ServerUnavailable("the server is stopped")
        if self.status.state == "failed" and self.status.next_restart_at is not None:
            raise ServerUnavailable(self.status.reason or "the server is restarting")
        if self._settled is None:
            self._settled = anyio.Event()
            self._demand.set()
        settled = self._settled
        with anyio.move_on_after(self.start_timeout + CLOSE_TIMEOUT):
            await settled.wait()
        if self.status.state == "ready" and self.client is not None:
            return self.client
        raise ServerUnavailable(self.status.reason or "the server did not start")

    def session_lost(self) -> None:
        """A caller saw the connection close under it: let the supervisor notice now."""
        self._wake.set()

    async def close(self) -> None:
        """End the session and the supervisor; every process of the group is gone after."""
        self._closing = True
        self._wake.set()
        self._demand.set()
        with anyio.move_on_after(CLOSE_TIMEOUT):
            await self._done.wait()
        if not self._done.is_set() and self._scope is not None:
            self._scope.cancel()
            await self._done.wait()
        self.reap()

    def reap(self) -> None:
        """SIGKILL whatever is left of the server's process group (a grandchild that ignored
        the SDK's SIGTERM, or a shutdown cut short)."""
        pgid, self.pgid = self.pgid, None
        if pgid is None or pgid == os.getpgrp():
            return
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        log.warning("mcp server %s left processes behind; killing group %d", self.record.name, pgid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    # -- the supervisor ---------------------------------------------------------------------

    async def run(self) -> None:
        try:
            with anyio.CancelScope(shield=True), anyio.CancelScope() as self._scope:
                await self._supervise()
        finally:
            self._settle()
            self._done.set()

    async def _supervise(self) -> None:
        while True:
            await self._demand.wait()
            self._demand = anyio.Event()
            if self._closing:
                break
            up_since = time.monotonic()
            crashed = await self._run_once()
            if not crashed or self._closing:
                continue
            if time.monotonic() - up_since >= self.backoff.reset_after:
                self.status.restarts = 0
            await self._wait_to_restart(self.status.reason or "the server exited")
        self._set(Status(restarts=self.status.restarts))

    async def _wait_to_restart(self, why: str) -> None:
        self.status.restarts += 1
        self.on_restart()
        delay = self.backoff.delay(self.status.restarts)
        self._set(
            Status(
                state="failed",
                reason=f"{why}; restarting in {delay:g} s",
                restarts=self.status.restarts,
                next_restart_at=self.clock() + delay,
            )
        )
        self._wake = anyio.Event()
        with anyio.move_on_after(delay):
            await self._wake.wait()
        if not self._closing:
            self.status.next_restart_at = None
            self._demand.set()
            if self._settled is None:
                self._settled = anyio.Event()

    async def _run_once(self) -> bool:
        """One start and session; True when the server died after being ready."""
        self._set(Status(state="starting", restarts=self.status.restarts))
        if self._settled is None:
            self._settled = anyio.Event()
        secrets = self.credentials()
        self.ring = StderrRing(Redactor(secrets.values()))
        self._tools_stale = False
        pipe = StderrPipe(self.ring)
        connection = Connection(self.record.transport, secrets, pipe.errlog)
        was_ready = False
        failure: BaseException | None = None
        async with anyio.create_task_group() as pumps:
            pumps.start_soon(pipe.pump)
            deadline = anyio.current_time() + self.start_timeout
            try:
                with anyio.CancelScope(deadline=deadline) as start_scope:
                    try:
                        async with self._client(connection) as client:
                            pipe.release_write_end()
                            self._note_process(connection)
                            await self._list_tools(client)
                            start_scope.deadline = math.inf
                            self.client = client
                            was_ready = True
                            self._ready(client)
                            await self._serve(client, connection)
                    finally:
                        pipe.release_write_end()
                        self.client = None
                if start_scope.cancelled_caught and not was_ready:
                    failure = TimeoutError()
            except Exception as exc:  # whatever the SDK raised, as a reason
                failure = exc
            with anyio.move_on_after(STDERR_DRAIN_S):
                await pipe.ended.wait()
            pumps.cancel_scope.cancel()
        self._note_exit(connection)
        self.reap()
        if self._closing:
            return False
        reason = self._reason(failure, connection, was_ready)
        if was_ready:
            self.status.reason = reason
            return True
        self._set(Status(state="failed", reason=reason, restarts=self.status.restarts))
        return False

    def _client(self, connection: Connection) -> Client:
        return Client(
            connection.open(),
            message_handler=self._on_message,
            client_info=types.Implementation(name="openfabric", version="1"),
            cache=None,
        )

    async def _list_tools(self, client: Client) -> None:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(16):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        self.tools = tools

    async def _serve(self, client: Client, connection: Connection) -> None:
        while not self._closing and not connection.ended.is_set():
            self._wake = anyio.Event()
            async with anyio.create_task_group() as waiting:

                async def ended() -> None:
                    await connection.ended.wait()
                    waiting.cancel_scope.cancel()

                async def woken() -> None:
                    await self._wake.wait()
                    waiting.cancel_scope.cancel()

                waiting.start_soon(ended)
                waiting.start_soon(woken)
            if self._tools_stale and not self._closing and not connection.ended.is_set():
                self._tools_stale = False
                try:
                    with anyio.fail_after(self.start_timeout):
                        await self._list_tools(client)
                except Exception as exc:
                    log.warning(
                        "mcp server %s: relisting tools failed: %s", self.record.name, describe(exc)
                    )
                self.status.tool_count = len(self.tools)
                self.on_state(self)

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._tools_stale = True
            self._wake.set()
        elif isinstance(message, Exception):
            # Lines on stdout that are not JSON-RPC (a server printing junk): ignored.
            self._garbage += 1
            if self._garbage % GARBAGE_LOG_EVERY == 1:
                log.warning(
                    "mcp server %s wrote %d line(s) to stdout that are not MCP messages; ignored",
                    self.record.name,
                    self._garbage,
                )

    # -- state ------------------------------------------------------------------------------

    def _ready(self, client: Client) -> None:
        info = client.server_info
        self._set(
            Status(
                state="ready",
                restarts=self.status.restarts,
                tool_count=len(self.tools),
                server_info=None
                if info is None
                else ServerInfo(name=info.name[:200], version=info.version[:100]),
                started_at=self.clock(),
            )
        )
        self._settle()

    def _set(self, status: Status) -> None:
        self.status = status
        self.on_state(self)
        if status.state == "failed" and status.next_restart_at is None:
            self._settle()

    def _settle(self) -> None:
        settled, self._settled = self._settled, None
        if settled is not None:
            settled.set()

    def _note_process(self, connection: Connection) -> None:
        process = connection.process
        pid = getattr(process, "pid", None)
        if isinstance(pid, int):
            self.pgid = pid  # the SDK starts it in a session of its own: pgid == pid

    def _note_exit(self, connection: Connection) -> None:
        if self.pgid is None:
            self._note_process(connection)
        code = getattr(connection.process, "returncode", None)
        self._exit_code = code if isinstance(code, int) else None

    def _reason(
        self, failure: BaseException | None, connection: Connection, was_ready: bool
    ) -> str:
        transport = self.record.transport
        command = transport.command if isinstance(transport, StdioTransport) else None
        url = None if command is not None else getattr(transport, "url", None)
        code = self._exit_code
        last = self.ring.last_line()
        if isinstance(failure, TimeoutError) and not was_ready:
            text = f"no MCP handshake within {self.start_timeout:g} s (mcp_start_timeout)"
        elif command is not None and isinstance(code, int) and (failure is None or not was_ready):
            text = f"exited with status {code}" if code >= 0 else f"killed by signal {-code}"
        elif failure is not None:
            text = describe(failure, command=command, url=url)
        else:
            text = "the connection closed"
        if last and "status" in text:
            text += f": {last}"
        return self.redact(text)
