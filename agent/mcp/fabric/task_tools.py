"""The cluster's nodes and tasks as tools: `nodes`, `node`, `submit_task`, `task`,
`task_logs`."""

from __future__ import annotations

from contextlib import aclosing
from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from agent.client import AgentClient
from agent.client.types import ClusterNode, TaskDetail, TaskView
from agent.mcp.fabric.calls import ClientOpener, ToolContext, call_agent
from agent.mcp.fabric.models import MAX_LOG_CHARS, TaskOutput

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
MAX_WAIT_S = 300.0

NodeId = Annotated[
    str, Field(min_length=1, max_length=256, description="A node id, as `nodes` lists them")
]
TaskId = Annotated[
    str, Field(min_length=1, max_length=256, description="The task_id `submit_task` answered")
]


def register(server: MCPServer, opener: ClientOpener) -> None:
    @server.tool(annotations=READ_ONLY, structured_output=True)
    async def nodes(ctx: ToolContext) -> list[ClusterNode]:
        """List every member of the OpenFabric cluster (the devices joined together): node_id,
        name, state (online, suspect, offline), addresses, what each offers (capabilities:
        remote exec, task slots, GPU, storage) and its latest telemetry (CPU, memory, disk).
        Use a node_id from here wherever a tool asks for a node."""
        return await call_agent(opener, ctx, lambda client: client.nodes())

    @server.tool(annotations=READ_ONLY)
    async def node(node_id: NodeId, ctx: ToolContext) -> ClusterNode:
        """Show one cluster member in detail (state, capabilities, resources, latest
        telemetry). Refused with NODE_NOT_FOUND for an id that is not a member."""
        return await call_agent(opener, ctx, lambda client: client.node(node_id))

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, open_world_hint=False))
    async def submit_task(
        command: Annotated[
            str,
            Field(min_length=1, max_length=100_000, description="A shell command (run by sh)"),
        ],
        ctx: ToolContext,
        node: Annotated[
            str | None,
            Field(max_length=256, description="Run on this node_id; default: the scheduler picks"),
        ] = None,
        wait_for_node: Annotated[
            bool, Field(description="With `node`: wait while that node is offline (else refused)")
        ] = True,
        timeout_s: Annotated[
            float | None, Field(gt=0, le=7 * 86400, description="Seconds it may run")
        ] = None,
        env: Annotated[
            dict[str, str] | None,
            Field(max_length=256, description="Environment variables (the task's env is clean)"),
        ] = None,
        cwd: Annotated[
            str | None, Field(max_length=4096, description="Working directory on the node")
        ] = None,
        retries: Annotated[
            int, Field(ge=0, le=10, description="How often to run it again if its node is lost")
        ] = 0,
        labels: Annotated[
            dict[str, str] | None, Field(max_length=32, description="Free-form labels")
        ] = None,
    ) -> TaskView:
        """Run a shell command as a task somewhere in the cluster; answers at once with the
        queued task (task_id, state). Read its output with `task_logs` (waits for the end) or
        `task`. Refusals: VALIDATION_ERROR, UNKNOWN_NODE, REMOTE_EXEC_DISABLED (that node does
        not run other members' commands), NODE_OFFLINE (`node` offline and not waiting)."""

        async def submit(client: AgentClient) -> TaskView:
            return await client.submit_task(
                command,
                node=node,
                wait_for_node=wait_for_node,
                timeout_s=timeout_s,
                env=env,
                cwd=cwd,
                retries=retries,
                labels=labels,
            )

        return await call_agent(opener, ctx, submit)

    @server.tool(annotations=READ_ONLY)
    async def task(
        task_id: TaskId,
        ctx: ToolContext,
        full: Annotated[
            bool, Field(description="The whole output instead of the last 64 KiB per stream")
        ] = False,
    ) -> TaskDetail:
        """Show a task now, without waiting: its state (queued, scheduled, running, succeeded,
        failed, cancelled, lost), node, exit code, error, and its stdout and stderr so far.
        Refused with TASK_NOT_FOUND."""
        return await call_agent(opener, ctx, lambda client: client.task(task_id, full))

    @server.tool(annotations=READ_ONLY)
    async def task_logs(
        task_id: TaskId,
        ctx: ToolContext,
        after: Annotated[
            int | None, Field(ge=0, description="Only output after this chunk (`last_chunk`)")
        ] = None,
        wait_s: Annotated[
            float, Field(gt=0, le=MAX_WAIT_S, description="Longest wait for the task's end")
        ] = 30.0,
    ) -> TaskOutput:
        """Read a task's output as it is written, waiting up to `wait_s` seconds for the task
        to end: answers what it wrote (the last 64 KiB of each stream), whether it `ended`,
        and then the final task (state, exit_code). If it has not ended, call again with
        `after` = `last_chunk` to read on. Refused with TASK_NOT_FOUND."""
        return await call_agent(opener, ctx, lambda client: follow(client, task_id, after, wait_s))


async def follow(client: AgentClient, task_id: str, after: int | None, wait_s: float) -> TaskOutput:
    written = {"stdout": "", "stderr": ""}
    last, ended = after, None
    with anyio.move_on_after(wait_s):
        async with aclosing(client.task_logs(task_id, after)) as events:
            async for event in events:
                if event.stream == "end":
                    ended = event.task
                    break
                written[event.stream] = (written[event.stream] + event.text)[-MAX_LOG_CHARS:]
                last = event.seq
    return TaskOutput(
        task_id=task_id,
        ended=ended is not None,
        stdout=written["stdout"],
        stderr=written["stderr"],
        last_chunk=last,
        task=ended,
    )
