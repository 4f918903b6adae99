"""`openfabric tasks run|list|show|logs|cancel`: shell commands run by the cluster."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, get_args

import click
import yaml

from agent.client import AgentClient, ClientError, LogEvent, Task, TaskPage, TaskState
from cli import output
from cli.commands import task_views as views
from cli.runtime import Globals, call, global_options, globals_of

MAX_RETRIES = 10
MAX_TIMEOUT_S = 7 * 86400
MAX_LIMIT = 500
STATES = get_args(TaskState)


@click.group("tasks")
def tasks() -> None:
    """Run shell commands on the cluster and follow them."""


def _key_values(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx, param)
        pairs[key] = value
    return pairs


def _absolute(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith("/"):
        raise click.BadParameter(
            f"{value!r} is not an absolute path (the task may run on another node)", ctx, param
        )
    return value


async def resolve_node(client: AgentClient, node: str) -> str:
    """A node's ID from its ID, its unique name, or a unique prefix of its ID (the short IDs
    the tables show); anything else is passed on as it is, for the agent to judge."""
    members = await client.nodes()
    if any(n.node_id == node for n in members):
        return node
    named = [n.node_id for n in members if n.name == node]
    matches = named or [n.node_id for n in members if n.node_id.startswith(node)]
    return matches[0] if len(matches) == 1 else node


def _write_err(text: str) -> None:
    click.echo(text, err=True, nl=False)


def _event_doc(event: LogEvent) -> dict[str, Any]:
    if event.stream == "end":
        task = event.task.model_dump(mode="json") if event.task is not None else None
        return {"stream": "end", "task": task}
    return {"stream": event.stream, "seq": event.seq, "text": event.text}


async def follow_task(g: Globals, client: AgentClient, task_id: str) -> Task:
    """Print a task's output as it arrives until it ends; returns the final task.

    Table format writes the raw text, stdout to stdout and stderr to stderr. json writes one
    object per event (`{"stream", "seq", "text"}`, at last `{"stream": "end", "task"}`), yaml
    one document per event.
    """
    async with aclosing(client.task_logs(task_id)) as stream:
        async for event in stream:
            if g.format == "json":
                g.emit(output.compact_json(_event_doc(event)))
            elif g.format == "yaml":
                g.emit("---\n" + yaml.safe_dump(_event_doc(event), sort_keys=False).rstrip("\n"))
            elif event.stream == "stdout":
                g.write(event.text)
            elif event.stream == "stderr":
                _write_err(event.text)
            if event.task is not None:
                return event.task
    raise ClientError(f"the log stream of task {task_id} ended before the task")


def _interrupted(task_id: str | None) -> None:
    if task_id is not None:
        click.echo(
            f"openfabric: stopped following task {task_id}; it goes on "
            f"(stop it with 'openfabric tasks cancel {task_id}')",
            err=True,
        )


@tasks.command("run")
@click.argument("command")
@click.option("--node", metavar="NODE", help="Run on this node (ID, short ID or name).")
@click.option(
    "--wait-for-node/--no-wait-for-node",
    default=True,
    help="Wait while --node is offline [default], or refuse at once.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, MAX_TIMEOUT_S, min_open=True),
    metavar="SECONDS",
    help="Stop the command after this long (it then ends timed_out).",
)
@click.option(
    "--env",
    "env",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_key_values,
    help="An environment variable for the command (repeatable).",
)
@click.option(
    "--cwd", metavar="DIR", callback=_absolute, help="Absolute working directory on the node."
)
@click.option(
    "--retries",
    type=click.IntRange(0, MAX_RETRIES),
    metavar="N",
    default=0,
    show_default=True,
    help="Run it again this often if it is lost with its node.",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_key_values,
    help="A label to find the task by (repeatable).",
)
@click.option("--follow", "-f", is_flag=True, help="Print its output until it ends.")
@global_options
@click.pass_context
def run(
    ctx: click.Context,
    command: str,
    node: str | None,
    wait_for_node: bool,
    timeout: float | None,
    env: dict[str, str],
    cwd: str | None,
    retries: int,
    labels: dict[str, str],
    follow: bool,
) -> None:
    """Run the shell command COMMAND on a node of the cluster.

    Prints the task's ID (only the ID with --quiet). With --follow, prints the command's
    stdout and stderr as they are written and exits with its exit status (124 when it timed
    out, 130 when cancelled, 255 when lost); Ctrl-C stops following, not the task.
    """
    g = globals_of(ctx)
    submitted: list[str] = []

    async def operation(client: AgentClient) -> Task:
        preferred = await resolve_node(client, node) if node else None
        task = await client.submit_task(
            command,
            node=preferred,
            wait_for_node=wait_for_node,
            timeout_s=timeout,
            env=env,
            cwd=cwd,
            retries=retries,
            labels=labels,
        )
        submitted.append(task.task_id)
        return await follow_task(g, client, task.task_id) if follow else task

    task = call(ctx, operation, on_interrupt=lambda: _interrupted(next(iter(submitted), None)))
    if follow:
        finish(g, task)
    elif g.quiet and g.format == "table":
        g.emit(task.task_id)
    else:
        g.emit(output.render(task, g.format, views.submitted_line))


def finish(g: Globals, task: Task) -> None:
    """Say why a followed task ended, when its exit status does not tell, and exit with it."""
    why = views.ending(task)
    if why is not None:
        g.note(f"openfabric: {why}")
    raise click.exceptions.Exit(views.exit_status(task))


@tasks.command("list")
@click.option("--status", type=click.Choice(STATES), help="Only tasks in this state.")
@click.option("--node", metavar="NODE", help="Only tasks placed on this node.")
@click.option(
    "--limit", type=click.IntRange(1, MAX_LIMIT), default=50, show_default=True, metavar="N"
)
@click.option("--offset", type=click.IntRange(min=0), default=0, metavar="N", help="Skip N.")
@global_options
@click.pass_context
def list_tasks(
    ctx: click.Context, status: str | None, node: str | None, limit: int, offset: int
) -> None:
    """Tasks, newest first."""
    g = globals_of(ctx)

    async def operation(client: AgentClient) -> TaskPage:
        on = await resolve_node(client, node) if node else None
        return await client.tasks(status=status, node=on, limit=limit, offset=offset)

    page = call(ctx, operation)
    g.emit(output.render(page, g.format, views.tasks_table))
    shown = page.offset + page.count
    if page.count and shown < page.total:
        g.note(f"showing {page.count} of {page.total} tasks (see --limit and --offset)")


@tasks.command("show")
@click.argument("task_id")
@click.option("--full", is_flag=True, help="All the output, not only the last 64 KiB.")
@global_options
@click.pass_context
def show(ctx: click.Context, task_id: str, full: bool) -> None:
    """A task's state, placement, timings and output."""
    g = globals_of(ctx)
    task = call(ctx, lambda client: client.task(task_id, full=full))
    g.emit(output.render(task, g.format, views.task_table))


@tasks.command("logs")
@click.argument("task_id")
@click.option("--follow", "-f", is_flag=True, help="Go on printing until the task ends.")
@global_options
@click.pass_context
def logs(ctx: click.Context, task_id: str, follow: bool) -> None:
    """A task's output: stdout to stdout, stderr to stderr.

    With --follow, what it writes from then on too, until it ends (Ctrl-C stops following).
    """
    g = globals_of(ctx)
    if follow:
        call(ctx, lambda client: follow_task(g, client, task_id), interrupted=0)
        return
    task = call(ctx, lambda client: client.task(task_id, full=True))
    if g.format != "table":
        body = {
            "task_id": task.task_id,
            "state": task.state,
            "stdout": task.stdout,
            "stderr": task.stderr,
            "truncated": task.truncated,
        }
        g.emit(output.render(body, g.format, str))
        return
    g.write(task.stdout)
    _write_err(task.stderr)
    if task.truncated:
        g.note("openfabric: the agent kept only part of this task's output")


@tasks.command("cancel")
@click.argument("task_id")
@global_options
@click.pass_context
def cancel(ctx: click.Context, task_id: str) -> None:
    """Cancel a queued or running task.

    A running command's processes get SIGTERM, and SIGKILL 5 s later.
    """
    g = globals_of(ctx)
    task = call(ctx, lambda client: client.cancel_task(task_id))
    g.emit(output.render(task, g.format, views.cancelled_line))
