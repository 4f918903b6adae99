"""One module per resource; `register` adds them all to the `openfabric` group."""

from __future__ import annotations

import click

from cli.commands.dashboard import dashboard
from cli.commands.events import events
from cli.commands.nodes import nodes
from cli.commands.ops import health, metrics
from cli.commands.serve import serve
from cli.commands.status import status
from cli.commands.version import version


def register(group: click.Group) -> None:
    for command in (serve, status, nodes, health, metrics, events, dashboard, version):
        group.add_command(command)
