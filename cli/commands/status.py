"""`openfabric status`: the cluster summary."""

from __future__ import annotations

import click

from agent.client import Status
from cli import output
from cli.runtime import call, global_options, globals_of


def status_table(status: Status) -> str:
    ram, storage, vram = status.ram, status.storage, status.vram
    return output.pairs(
        [
            ("Node", f"{status.node_name} ({output.short_id(status.node_id)})"),
            ("Version", status.version),
            ("Uptime", output.duration(status.uptime_s)),
            ("Cluster", status.cluster_id or "not in a cluster"),
            ("Nodes", f"{status.online_count} online / {status.node_count} total"),
            ("CPU cores", status.cpu_cores),
            ("RAM", f"{output.size(ram.available)} available / {output.size(ram.total)}"),
            ("Storage", f"{output.size(storage.free)} free / {output.size(storage.total)}"),
            ("GPUs", status.gpu_count),
            ("VRAM", f"{output.size(vram.used)} used / {output.size(vram.total)}"),
        ]
    )


@click.command("status")
@global_options
@click.pass_context
def status(ctx: click.Context) -> None:
    """Cluster summary: nodes online and pooled CPU, RAM, storage, GPUs."""
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.status())
    g.emit(output.render(result, g.format, status_table))
