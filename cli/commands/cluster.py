"""`openfabric cluster token|leave|discovered|status` and `openfabric join TOKEN`."""

from __future__ import annotations

import click

from agent.client import Discovered, JoinResult, JoinToken
from cli import output
from cli.commands.status import status
from cli.runtime import call, confirm, global_options, globals_of

JOIN_PATH = "/join/"


@click.group("cluster")
def cluster() -> None:
    """Grow, leave and look around the cluster."""


cluster.add_command(status, "status")


def fingerprint_blocks(fingerprint: str) -> str:
    """`ab12cd34...` as `ab12 cd34 ...`, the way it is read aloud and compared by eye."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def expires(seconds: float) -> str:
    return "expired" if seconds <= 0 else "in " + output.duration(seconds).replace(" ", "")


def token_table(token: JoinToken) -> str:
    issuer = token.issuer
    details = output.pairs(
        [
            ("Cluster", token.cluster_id),
            ("Issuer", f"{issuer.name} ({output.short_id(issuer.node_id)})"),
            ("Fingerprint", fingerprint_blocks(issuer.fingerprint)),
            ("Expires", f"{expires(token.expires_in)} (single use)"),
        ]
    )
    return (
        "On the device to add, run:\n\n"
        f"  {token.command}\n\n"
        f"or open its onboarding page:\n\n  {token.join_url}\n\n"
        "Check that the fingerprint it shows matches:\n\n" + details
    )


@cluster.command("token")
@global_options
@click.pass_context
def token(ctx: click.Context) -> None:
    """A single-use token for another device to join this cluster.

    With --quiet (table format) only the token is printed, for scripts:
    `openfabric join $(openfabric cluster token -q)`.
    """
    g = globals_of(ctx)
    issued = call(ctx, lambda client: client.join_token())
    if g.quiet and g.format == "table":
        g.emit(issued.token)
        return
    g.emit(output.render(issued, g.format, token_table))


def token_of(text: str) -> str:
    """The token itself, also when given the onboarding page's join URL."""
    text = text.strip()
    if JOIN_PATH in text:
        text = text.rsplit(JOIN_PATH, 1)[1]
    return text.split("?", 1)[0].split("#", 1)[0].strip("/")


def joined_table(result: JoinResult) -> str:
    count = len(result.members)
    return (
        f"joined cluster {result.cluster_id} via {output.short_id(result.joined_via)}: "
        f"{count} member{'s' if count != 1 else ''}"
    )


@click.command("join")
@click.argument("token")
@global_options
@click.pass_context
def join(ctx: click.Context, token: str) -> None:
    """Join this device's agent to the cluster that issued TOKEN.

    Get TOKEN with `openfabric cluster token` on a device already in the cluster; its join
    URL works too.
    """
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.join(token_of(token)))
    g.emit(output.render(result, g.format, joined_table))
    g.note("see the members with 'openfabric nodes list'")


@cluster.command("leave")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def leave(ctx: click.Context, yes: bool) -> None:
    """Leave the cluster; this node goes on alone.

    Asks first on a terminal; elsewhere (scripts, pipes) --yes is required.
    """
    g = globals_of(ctx)
    confirm("Leave the cluster? This node will go on alone.", yes, refused="not leaving")
    result = call(ctx, lambda client: client.leave())
    g.emit(output.render(result, g.format, lambda r: f"left cluster {r.left}"))


def discovered_table(body: Discovered) -> str:
    if not body.mdns:
        return "mDNS discovery is off on this agent"
    if not body.agents:
        return "no other agents found on the local network"
    rows = [
        [
            output.short_id(agent.node_id),
            agent.name,
            ", ".join(agent.addresses) or "-",
            agent.cluster_id or "-",
            agent.version,
            output.ago(agent.last_seen),
        ]
        for agent in body.agents
    ]
    headers = ["NODE ID", "NAME", "ADDRESSES", "CLUSTER", "VERSION", "LAST SEEN"]
    return output.table(headers, rows)


@cluster.command("discovered")
@global_options
@click.pass_context
def discovered(ctx: click.Context) -> None:
    """Agents found on the local network (mDNS) that are not in this cluster."""
    g = globals_of(ctx)
    body = call(ctx, lambda client: client.discovered())
    g.emit(output.render(body, g.format, discovered_table))
