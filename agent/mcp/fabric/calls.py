"""How a tool reaches the agent: an `AgentClient` opened for the call, and every SDK failure
turned into a tool error the model can read (the session goes on)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from agent.client import AgentClient, AgentUnavailable, ApiError, ClientError

T = TypeVar("T")
ToolContext = Context[Any, Any]
# Opens the client a tool call uses: the one shared client (stdio), or one carrying the
# credentials of the HTTP request that made the call.
ClientOpener = Callable[[ToolContext], AbstractAsyncContextManager[AgentClient]]
# An error's details go to the model as JSON: bounded, as the agent bounds nothing it echoes.
MAX_DETAILS_CHARS = 2000


def shared(client: AgentClient) -> ClientOpener:
    """Every call uses `client`; its owner closes it."""

    @asynccontextmanager
    async def opener(_: ToolContext) -> AsyncIterator[AgentClient]:
        yield client

    return opener


def refusal(exc: ApiError) -> str:
    text = f"{exc.message} (error_code {exc.code}, HTTP {exc.status})"
    if exc.details:
        details = json.dumps(exc.details, sort_keys=True, default=str)
        if len(details) > MAX_DETAILS_CHARS:
            details = details[: MAX_DETAILS_CHARS - 1] + "…"
        text += f"; details: {details}"
    return text


async def call_agent(
    opener: ClientOpener, ctx: ToolContext, operation: Callable[[AgentClient], Awaitable[T]]
) -> T:
    """`operation`'s answer, or a `ToolError` saying why the agent refused or is not there."""
    try:
        async with opener(ctx) as client:
            return await operation(client)
    except ApiError as exc:
        raise ToolError(refusal(exc)) from None
    except AgentUnavailable as exc:
        raise ToolError(
            f"the OpenFabric agent is not running or not answering at {exc.url} ({exc}); "
            "start it with 'openfabric serve'"
        ) from None
    except ClientError as exc:
        raise ToolError(str(exc)) from None
