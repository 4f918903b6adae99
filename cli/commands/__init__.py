"""One module per resource; `register` adds them all to the `openfabric` group."""

from __future__ import annotations

import click

from cli.commands.cluster import cluster, join
from cli.commands.dashboard import dashboard
from cli.commands.events import events
from cli.commands.llm import llm
from cli.commands.nodes import nodes
from cli.commands.ops import health, metrics
from cli.commands.scheduler import scheduler
from cli.commands.serve import serve
from cli.commands.status import status
from cli.commands.storage import storage
from cli.commands.tasks import tasks
from cli.commands.version import version


def register(group: click.Group) -> None:
    commands = (
        serve,
        status,
        nodes,
        cluster,
        join,
        tasks,
        scheduler,
        storage,
        llm,
        health,
        metrics,
        events,
        dashboard,
        version,
    )
    for command in commands:
        group.add_command(command)
