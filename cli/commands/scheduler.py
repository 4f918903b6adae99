"""`openfabric scheduler stats`: how the task scheduler is doing."""

from __future__ import annotations

import click

from cli import output
from cli.commands.task_views import stats_table
from cli.runtime import call, global_options, globals_of


@click.group("scheduler")
def scheduler() -> None:
    """The task scheduler."""


@scheduler.command("stats")
@global_options
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Queue depth, tasks in flight, dispatch latency, totals by outcome, and per node its
    load and circuit breaker."""
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.scheduler_stats())
    g.emit(output.render(result, g.format, stats_table))
