"""`openfabric events`: follow the agent's event stream, one line per event."""

from __future__ import annotations

from contextlib import aclosing
from datetime import datetime

import click
import yaml

from agent.client import AgentClient, StreamEvent
from cli import output
from cli.runtime import call, fail, global_options, globals_of


def event_line(event: StreamEvent, fmt: str, received: datetime) -> str:
    if fmt == "json":
        return output.compact_json({"id": event.id, "topic": event.topic, "data": event.data})
    if fmt == "yaml":
        doc = {"id": event.id, "topic": event.topic, "data": event.data}
        return "---\n" + yaml.safe_dump(doc, sort_keys=False).rstrip("\n")
    clock = received.strftime("%H:%M:%S.%f")[:-3]
    return f"{clock}  {event.topic}  {output.compact_json(event.data)}"


@click.command("events")
@click.option("--topics", metavar="A,B", help="Comma-separated topics or prefixes [default: all].")
@click.option(
    "--last-event-id",
    type=click.IntRange(min=0),
    metavar="N",
    help="Replay the events after this id first.",
)
@click.option("--count", type=click.IntRange(min=1), metavar="N", help="Stop after N events.")
@global_options
@click.pass_context
def events(
    ctx: click.Context, topics: str | None, last_event_id: int | None, count: int | None
) -> None:
    """Follow the live event stream until --count events arrive or Ctrl-C.

    Table format prints `time  topic  data`; json prints one JSON object per line.
    """
    g = globals_of(ctx)
    wanted = [t.strip() for t in (topics or "").split(",") if t.strip()] or None

    async def follow(client: AgentClient) -> bool:
        seen = 0
        async with aclosing(client.events(wanted, last_event_id)) as stream:
            async for event in stream:
                g.emit(event_line(event, g.format, datetime.now()))
                seen += 1
                if count is not None and seen >= count:
                    return True
        return False

    # Ctrl-C is the normal way to stop following, so it exits 0.
    if not call(ctx, follow, interrupted=0):
        fail("the agent closed the event stream (did it stop?)")
