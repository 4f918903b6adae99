"""`openfabric llm status|models|pull|rm|chat|sessions`: the cluster's pool of Ollamas."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import click

from agent.client import AgentClient, ClientError, PullEvent
from cli import output
from cli.commands import llm_views as views
from cli.commands.llm_chat import chat, node_name, sessions
from cli.commands.tasks import resolve_node
from cli.progress import Progress, wanted
from cli.runtime import call, global_options, globals_of


@click.group("llm")
def llm() -> None:
    """Local LLMs: every node's Ollama as one pool, and chat with its models."""


llm.add_command(chat)
llm.add_command(sessions)


@llm.command("status")
@global_options
@click.pass_context
def status(ctx: click.Context) -> None:
    """This node's Ollama: up or down (and why), version, models, loaded models."""
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.llm_status())
    g.emit(output.render(result, g.format, views.status_view))


@llm.command("models")
@global_options
@click.pass_context
def models(ctx: click.Context) -> None:
    """Every model in the cluster, the nodes holding it, and where it would run.

    PLAN is the sharding planner's verdict against the online nodes' free memory: the nodes
    it fits on whole, a split over several nodes, or how much memory is missing.
    """
    g = globals_of(ctx)
    catalog = call(ctx, lambda client: client.llm_models())
    g.emit(output.render(catalog, g.format, views.models_table))


class PullMeter:
    """Pull progress on stderr: one transfer meter per layer (digest), and the status lines
    in between (`pulling manifest`, `verifying sha256 digest`...). Silent unless wanted."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.meter: Progress | None = None
        self.digest: str | None = None
        self.last_status: str | None = None

    def update(self, event: PullEvent) -> None:
        if not self.enabled:
            return
        if event.digest is None:
            self.close()
            if event.status and event.status != self.last_status:
                click.echo(event.status, err=True)
            self.last_status = event.status
            return
        if event.digest != self.digest:
            self.close()
            short = event.digest.removeprefix("sha256:")[:12]
            label = event.status if short in event.status else f"{event.status} {short}".strip()
            self.meter, self.digest = Progress(label, event.total, enabled=True), event.digest
        assert self.meter is not None
        if event.total:
            self.meter.total = event.total
        if event.completed is not None and event.completed > self.meter.done:
            self.meter.update(event.completed - self.meter.done)

    def close(self) -> None:
        if self.meter is not None:
            self.meter.close()
        self.meter = self.digest = None


@llm.command("pull")
@click.argument("model")
@click.option("--node", metavar="NODE", help="Pull on this node (ID, short ID or name).")
@global_options
@click.pass_context
def pull(ctx: click.Context, model: str, node: str | None) -> None:
    """Download MODEL into this node's Ollama (or --node's).

    Shows each layer's progress on a terminal (not with --quiet); prints where the model
    landed. Exits 1 when the pull fails.
    """
    g = globals_of(ctx)
    meter = PullMeter(wanted(g.quiet))
    names: dict[str, str] = {}

    async def operation(client: AgentClient) -> dict[str, Any]:
        target = await resolve_node(client, node) if node else None
        try:
            async with aclosing(client.llm_pull(model, node=target)) as stream:
                async for event in stream:
                    if event.kind == "done":
                        break
                    meter.update(event)
                else:
                    raise ClientError(f"the pull of {model} ended before it was done")
        finally:
            meter.close()  # before any error message, so it starts on a line of its own
        done = {"model": model, **event.data}
        name = await node_name(client, done.get("node_id"))
        if name:
            names[done["node_id"]] = name
        return done

    def interrupted() -> None:
        meter.close()
        click.echo(f"openfabric: stopped watching the pull of {model}", err=True)

    done = call(ctx, operation, on_interrupt=interrupted)

    def line(result: dict[str, Any]) -> str:
        where = names.get(result.get("node_id") or "", result.get("node_id"))
        return f"pulled {result['model']}" + (f" on {where}" if where else "")

    g.emit(output.render(done, g.format, line))


@llm.command("rm")
@click.argument("model")
@global_options
@click.pass_context
def rm(ctx: click.Context, model: str) -> None:
    """Remove MODEL from this node's Ollama."""
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.llm_delete(model))
    g.emit(output.render(result, g.format, lambda r: f"deleted {r.model}"))
