"""`openfabric nodes list|show|evict`: the members of the cluster."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from agent.client import (
    AgentClient,
    ApiError,
    EvictResult,
    Node,
    NodeList,
    NodeResources,
    TelemetryHistory,
    TelemetrySample,
)
from cli import output
from cli.runtime import call, confirm, global_options, globals_of

T = TypeVar("T")


@click.group("nodes")
def nodes() -> None:
    """The nodes of the cluster."""


def _ram(resources: NodeResources) -> str:
    total = resources.ram_total
    if not total:
        return "-"
    return f"{output.size(total - resources.ram_available)} / {output.size(total)}"


def nodes_table(body: NodeList, full_ids: bool = False) -> str:
    rows = []
    for node in body.nodes:
        res = node.resources
        node_id = node.node_id if full_ids else output.short_id(node.node_id)
        rows.append(
            [
                node_id + (" *" if node.is_self else ""),
                node.name,
                node.state,
                output.percent(res.cpu_percent),
                _ram(res),
                output.size(res.storage_free) if res.storage_total else "-",
                res.gpu_count,
                output.ago(node.last_seen),
            ]
        )
    headers = ["ID", "NAME", "STATE", "CPU%", "RAM USED/TOTAL", "DISK FREE", "GPUS", "LAST SEEN"]
    return output.table(headers, rows)


def node_table(node: Node) -> str:
    res = node.resources
    # A member on another version may send a sample this CLI cannot read: its resources
    # still show, its details do not.
    sample = node.telemetry if isinstance(node.telemetry, TelemetrySample) else None
    state = node.state + (" (this node)" if node.is_self else "")
    hosts = node.addresses or [node.address]
    address = ", ".join(f"{host}:{node.peer_port}" for host in hosts if host) or "-"
    items: list[tuple[str, Any]] = [
        ("ID", node.node_id),
        ("Name", node.name),
        ("State", state),
        ("Last seen", output.ago(node.last_seen)),
        ("Joined", output.ago(node.joined_at)),
        ("Version", node.version),
        ("Peer address", address),
        ("Fingerprint", node.fingerprint),
    ]
    if sample is not None:
        system = sample.system
        items += [
            ("Hostname", system.hostname or "-"),
            ("OS", f"{system.os_pretty or '-'} ({system.arch or '?'})"),
        ]
    load = " ".join(f"{x:.2f}" for x in sample.cpu.load) if sample else ""
    items += [
        (
            "CPU",
            f"{res.cpu_cores} cores, {output.percent(res.cpu_percent)}"
            + (f", load {load}" if load else ""),
        ),
        ("RAM used", _ram(res)),
        ("Storage free", f"{output.size(res.storage_free)} / {output.size(res.storage_total)}"),
        ("GPUs", res.gpu_count),
    ]
    for gpu in sample.gpus if sample else []:
        items.append(
            (
                f"  GPU {gpu.index}",
                f"{gpu.name}, {output.percent(gpu.utilization_percent)}, "
                f"{output.size(gpu.memory_used)} / {output.size(gpu.memory_total)}",
            )
        )
    return output.pairs(items)


@nodes.command("list")
@global_options
@click.pass_context
def list_nodes(ctx: click.Context) -> None:
    """Every node with its state and resource use (* marks this node)."""
    g = globals_of(ctx)
    found = call(ctx, lambda client: client.nodes())
    body = NodeList(nodes=found, count=len(found))
    g.emit(output.render(body, g.format, lambda b: nodes_table(b, full_ids=g.verbose)))


@nodes.command("show")
@click.argument("node_id")
@global_options
@click.pass_context
def show_node(ctx: click.Context, node_id: str) -> None:
    """One node's state, resources and latest telemetry (NODE_ID may be a unique prefix)."""
    g = globals_of(ctx)
    node = call(ctx, lambda client: by_prefix(client, node_id, client.node))
    g.emit(output.render(node, g.format, node_table))


@nodes.command("history")
@click.argument("node_id")
@click.option(
    "--seconds", type=click.FloatRange(min=0, min_open=True), help="Only the last N seconds."
)
@global_options
@click.pass_context
def node_history(ctx: click.Context, node_id: str, seconds: float | None) -> None:
    """A node's recent telemetry, oldest first (NODE_ID may be a unique prefix)."""
    g = globals_of(ctx)
    history = call(
        ctx, lambda client: by_prefix(client, node_id, lambda n: client.node_telemetry(n, seconds))
    )
    g.emit(output.render(history, g.format, history_table))


def history_table(history: TelemetryHistory) -> str:
    rows = [
        [
            output.clock(sample.ts),
            output.percent(sample.cpu.percent),
            output.percent(sample.memory.percent),
            output.size(sample.storage.used),
            output.size(sum(n.rx_bytes_per_s for n in sample.network)) + "/s",
            output.size(sum(n.tx_bytes_per_s for n in sample.network)) + "/s",
        ]
        for sample in history.samples
    ]
    headers = ["TIME", "CPU%", "MEM%", "STORAGE USED", "NET IN", "NET OUT"]
    return output.table(headers, rows)


async def by_prefix(client: AgentClient, node_id: str, action: Callable[[str], Awaitable[T]]) -> T:
    """`action(node_id)`, retried with the full ID when `node_id` is the unique prefix of one
    (the short IDs `nodes list` shows)."""
    try:
        return await action(node_id)
    except ApiError as exc:
        if exc.code != "NODE_NOT_FOUND":
            raise
        matches = [n.node_id for n in await client.nodes() if n.node_id.startswith(node_id)]
        if len(matches) != 1:
            raise
        return await action(matches[0])


@nodes.command("evict")
@click.argument("node_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--evict-admitted",
    is_flag=True,
    help="Also evict the members this node admitted (by default they stay, listed for review).",
)
@global_options
@click.pass_context
def evict_node(ctx: click.Context, node_id: str, yes: bool, evict_admitted: bool) -> None:
    """Remove a node from the cluster everywhere, for good; its key is refused from then on.

    NODE_ID may be a unique prefix. Asks first on a terminal; elsewhere --yes is required.
    The members the node admitted are listed so they can be reviewed.
    """
    g = globals_of(ctx)
    also = " and every member it admitted" if evict_admitted else ""
    confirm(f"Evict node {node_id}{also} from the cluster?", yes, refused="not evicted")

    async def evict(client: AgentClient, full_id: str) -> EvictResult:
        return await client.evict_node(full_id, evict_admitted=evict_admitted)

    result = call(ctx, lambda client: by_prefix(client, node_id, lambda n: evict(client, n)))
    g.emit(output.render(result, g.format, lambda r: evict_text(r, node_id)))


def evict_text(result: EvictResult, node_id: str) -> str:
    lines = [f"evicted {result.node_id or node_id}"]
    also = set(result.also_evicted)
    for admitted in result.admitted:
        verdict = "evicted too" if admitted.node_id in also else "still a member, review it"
        lines.append(f"  admitted {admitted.node_id} ({admitted.name}): {verdict}")
    return "\n".join(lines)
