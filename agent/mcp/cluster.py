"""The cluster's tools (`ctx.tools`): this node's servers, and every online member's asked
over the peer channel (`GET /peer/mcp/tools`, `POST /peer/mcp/call`).

What a member answers is a claim from a node that may be compromised: read up to a byte
bound, validated, cut to bounded counts and sizes, and attributed to that member whatever
it says. A server name configured on several members resolves to this node first, else to
the member with the smallest node id.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, TypeVar

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from agent.core.cluster import ClusterView, MemberView
from agent.core.errors import Conflict, NotFound
from agent.core.toolbox import MAX_TOOL_RESULT_CHARS, MAX_TOOLS_PER_REQUEST, ToolOutcome, ToolSpec
from agent.mcp.models import (
    MAX_SCHEMA_BYTES,
    MAX_TOOL_DESCRIPTION,
    NAME_PATTERN,
    ClusterTool,
    McpTool,
    PeerCallAnswer,
    PeerCallBody,
    PeerToolsAnswer,
)
from agent.mcp.service import McpService
from agent.mcp.tools import LocalTools
from agent.peer.client import PeerClient, PeerUnreachable

PEER_TOOLS = "/peer/mcp/tools"
PEER_CALL = "/peer/mcp/call"
MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_MEMBER_TOOLS = MAX_TOOLS_PER_REQUEST * 4
_NAME = re.compile(NAME_PATTERN)
M = TypeVar("M", bound=BaseModel)


class MemberFailed(Exception):
    pass


class ClusterToolbox:
    def __init__(self, service: McpService, cluster: ClusterView, peers: PeerClient) -> None:
        self.local = LocalTools(service)
        self.service = service
        self.cluster = cluster
        self.peers = peers
        # Which member hosts each remote server, from the last cluster-wide listing: a chat
        # lists the tools and then calls them, and a call need not ask every member again.
        self._hosts: dict[str, str] = {}

    @property
    def _wait(self) -> float:
        return self.service.settings.mcp_start_timeout + 5.0

    async def everywhere(self) -> tuple[list[ClusterTool], list[str], dict[str, set[str]]]:
        """Every enabled tool on every online member, the members that did not answer, and
        each member's disabled servers."""
        tools: list[ClusterTool] = []
        unreachable: list[str] = []
        disabled: dict[str, set[str]] = {}

        async def mine() -> None:
            me = self.cluster.member(self.local.node_id)
            name = me.name if me is not None else self.local.node_id
            found = await self.local.all_tools()
            disabled[self.local.node_id] = {
                n for n, r in self.service.records.items() if not r.enabled
            }
            tools.extend(ClusterTool(**t.model_dump(), node_name=name) for t in found)

        async def theirs(member: MemberView) -> None:
            try:
                found, off = await self._ask_tools(member)
            except MemberFailed:
                unreachable.append(member.node_id)
                return
            disabled[member.node_id] = off
            tools.extend(ClusterTool(**t.model_dump(), node_name=member.name) for t in found)

        async with anyio.create_task_group() as group:
            group.start_soon(mine)
            for member in self.cluster.members():
                if member.online and not member.is_self and member.node_id != self.local.node_id:
                    group.start_soon(theirs, member)
        tools.sort(key=lambda t: (t.server, t.node_id, t.name))
        self._hosts = {t.server: t.node_id for t in _one_host_per_server(tools, self.local.node_id)}
        return tools, sorted(unreachable), disabled

    async def tools(self, servers: list[str] | Literal["all"]) -> list[ToolSpec]:
        if servers == "all":
            found, _, _ = await self.everywhere()
            return _specs(_one_host_per_server(found, self.local.node_id))
        specs: list[ToolSpec] = []
        remote: list[str] = []
        for name in dict.fromkeys(servers):
            if name in self.service.records:
                try:
                    specs.extend(_specs(await self.local.tools(name)))
                except Conflict:
                    raise
                except Exception:
                    continue  # failed to start: no tools, and its state says why
            else:
                remote.append(name)
        if remote:
            found, _, disabled = await self.everywhere()
            hosted = _one_host_per_server(found, self.local.node_id)
            for name in remote:
                mine = [t for t in hosted if t.server == name]
                if mine:
                    specs.extend(_specs(mine))
                elif any(name in off for off in disabled.values()):
                    raise Conflict(f"MCP server {name!r} is disabled", code="MCP_SERVER_DISABLED")
                else:
                    raise NotFound(
                        f"no member has an MCP server {name!r}", code="MCP_SERVER_NOT_FOUND"
                    )
        return specs[:MAX_TOOLS_PER_REQUEST]

    async def call(
        self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> ToolOutcome:
        if server in self.service.records:
            try:
                outcome = await self.local.call(server, tool, arguments, timeout)
            except Conflict as exc:
                return ToolOutcome(exc.message, True, None, self.local.node_id, 0.0)
            return ToolOutcome(
                outcome.text,
                outcome.is_error,
                outcome.structured,
                self.local.node_id,
                outcome.duration_ms,
            )
        member = self._host_of(server)
        if member is None:
            await self.everywhere()
            member = self._host_of(server)
        if member is None:
            return ToolOutcome(f"no member has an MCP server {server!r}", True, None, "", 0.0)
        return await self._ask_call(member, server, tool, arguments, timeout)

    def _host_of(self, server: str) -> MemberView | None:
        host = self._hosts.get(server)
        member = self.cluster.member(host) if host else None
        return member if member is not None and member.online and not member.is_self else None

    async def _ask_tools(self, member: MemberView) -> tuple[list[McpTool], set[str]]:
        answer = await self._ask(member, "GET", PEER_TOOLS, None, self._wait, PeerToolsAnswer)
        return member_tools(answer, member.node_id)

    async def _ask_call(
        self,
        member: MemberView,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        timeout: float | None,
    ) -> ToolOutcome:
        settings = self.service.settings
        bound = timeout if timeout is not None else settings.mcp_call_timeout
        body = PeerCallBody(
            server=server, tool=tool[:128] or "?", arguments=arguments, timeout=bound
        )
        try:
            answer = await self._ask(
                member,
                "POST",
                PEER_CALL,
                body.model_dump(),
                bound + settings.mcp_start_timeout + 5.0,
                PeerCallAnswer,
            )
        except MemberFailed as exc:
            return ToolOutcome(
                f"{member.name} did not run the call: {exc}", True, None, member.node_id, 0.0
            )
        return ToolOutcome(
            answer.text[:MAX_TOOL_RESULT_CHARS],
            answer.is_error,
            answer.structured,
            member.node_id,
            max(0.0, min(answer.duration_ms, 1e9)),
        )

    async def _ask(
        self,
        member: MemberView,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        within: float,
        model: type[M],
    ) -> M:
        raw = bytearray()
        try:
            with anyio.fail_after(within):
                async with self.peers.stream(
                    member.target, method, path, json_body=body, timeout=within
                ) as response:
                    if response.status_code != 200:
                        raise MemberFailed(f"it answered HTTP {response.status_code}")
                    async for block in response.aiter_bytes():
                        raw += block
                        if len(raw) > MAX_ANSWER_BYTES:
                            raise MemberFailed("its answer was too large")
        except TimeoutError:
            raise MemberFailed(f"no answer within {within:g} s") from None
        except (PeerUnreachable, httpx.HTTPError, OSError) as exc:
            raise MemberFailed(f"unreachable: {exc}") from exc
        try:
            return model.model_validate_json(bytes(raw))
        except ValidationError:
            raise MemberFailed("its answer was malformed") from None


def member_tools(answer: PeerToolsAnswer, node_id: str) -> tuple[list[McpTool], set[str]]:
    """What a member says of its tools, cut to bounds (counts, names, schema and description
    sizes) and attributed to that member whatever node it names."""
    tools: list[McpTool] = []
    for tool in answer.tools[:MAX_MEMBER_TOOLS]:
        if not _NAME.fullmatch(tool.server) or not 0 < len(tool.name) <= 128:
            continue
        if len(json.dumps(tool.input_schema, default=str)) > MAX_SCHEMA_BYTES:
            continue
        update = {"node_id": node_id, "description": tool.description[:MAX_TOOL_DESCRIPTION]}
        tools.append(tool.model_copy(update=update))
    disabled = {n for n in answer.disabled[:256] if _NAME.fullmatch(n)}
    return tools, disabled


def _one_host_per_server(tools: list[ClusterTool] | list[McpTool], self_id: str) -> list[Any]:
    hosts: dict[str, str] = {}
    for tool in tools:
        current = hosts.get(tool.server)
        if current == self_id:
            continue
        if tool.node_id == self_id or current is None or tool.node_id < current:
            hosts[tool.server] = tool.node_id
    return [t for t in tools if hosts.get(t.server) == t.node_id]


def _specs(tools: list[Any]) -> list[ToolSpec]:
    return [
        ToolSpec(
            server=t.server,
            name=t.name,
            description=t.description,
            input_schema=t.input_schema,
            node_id=t.node_id,
        )
        for t in tools
    ]
