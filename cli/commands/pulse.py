"""`openfabric pulse insights|dismiss|history|weekly`: Fabric Pulse, the cluster's warnings
before something hurts, what its checks saw, and the week in figures."""

from __future__ import annotations

import time

import click

from agent.client import AgentClient
from agent.pulse.models import Insight, InsightList, PulseHistory, WeeklyDigest
from cli import output
from cli.commands.tasks import resolve_node
from cli.runtime import call, global_options, globals_of

MAX_HISTORY = 1000
WHAT_WIDTH = 100


@click.group("pulse")
def pulse() -> None:
    """The cluster's insight cards, its checks' history and the weekly digest."""


def flat(text: str, width: int = WHAT_WIDTH) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def where(node_id: str | None, name: str | None, subject: str | None = None) -> str:
    place = name or (output.short_id(node_id) if node_id else "cluster")
    return f"{place} {subject}" if subject else place


# --- insights ----------------------------------------------------------------------------


def insights_view(listing: InsightList) -> str:
    if not listing.insights:
        return "all clear: no insight is active"
    rows = []
    for card in listing.insights:
        severity = card.severity + (" (dismissed)" if card.dismissed else "")
        place = where(card.node_id, card.node_name, card.subject)
        rows.append([severity, card.title, place, output.ago(card.since), card.id])
    parts = [output.table(["SEVERITY", "TITLE", "NODE", "SINCE", "ID"], rows)]
    for card in listing.insights:
        parts.append(f"{card.id}\n  {flat(card.what)}\n  do: {flat(card.action)}")
    return "\n\n".join(parts)


@pulse.command("insights")
@click.option("--all", "dismissed", is_flag=True, help="Also the dismissed cards.")
@global_options
@click.pass_context
def insights(ctx: click.Context, dismissed: bool) -> None:
    """The active insight cards, critical first, then newest.

    Each with its severity, what it is about, since when, what is happening and what to do.
    """
    g = globals_of(ctx)
    listing = call(ctx, lambda client: client.pulse_insights(include_dismissed=dismissed))
    g.emit(output.render(listing, g.format, insights_view))


# --- dismiss -----------------------------------------------------------------------------


def dismissed_line(card: Insight) -> str:
    return f"dismissed {card.id}: {card.title} (shown again if it clears and comes back)"


@pulse.command("dismiss")
@click.argument("insight_id", metavar="ID")
@global_options
@click.pass_context
def dismiss(ctx: click.Context, insight_id: str) -> None:
    """Hide a card until its condition clears and comes back, or gets worse."""
    g = globals_of(ctx)
    card = call(ctx, lambda client: client.pulse_dismiss(insight_id))
    g.emit(output.render(card, g.format, dismissed_line))


# --- history -----------------------------------------------------------------------------


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def history_view(history: PulseHistory) -> str:
    if not history.changes and not history.evaluations:
        return "no checks recorded yet"
    changes = [
        [
            output.clock(change.at),
            change.insight_id,
            "dismissed" if change.dismissed else f"{change.from_status} -> {change.to_status}",
        ]
        for change in history.changes
    ]
    evaluations = [
        [
            output.clock(e.at),
            e.rule,
            where(e.node_id, None, e.subject),
            _value(e.value),
            e.status,
        ]
        for e in history.evaluations
    ]
    parts = []
    if changes:
        parts.append(output.table(["TIME", "INSIGHT", "CHANGE"], changes))
    else:
        parts.append("no state changes")
    if evaluations:
        parts.append(output.table(["TIME", "RULE", "NODE", "VALUE", "STATUS"], evaluations))
    return "\n\n".join(parts)


@pulse.command("history")
@click.option("--rule", metavar="R", help="Only this rule's checks.")
@click.option("--node", metavar="N", help="Only checks about this node (ID, short ID or name).")
@click.option("--limit", type=click.IntRange(1, MAX_HISTORY), default=200, show_default=True,
              metavar="N", help="At most N of each.")  # fmt: skip
@global_options
@click.pass_context
def history(ctx: click.Context, rule: str | None, node: str | None, limit: int) -> None:
    """What the checks saw, most recent first: the state changes, then each evaluation."""
    g = globals_of(ctx)

    async def operation(client: AgentClient) -> PulseHistory:
        target = await resolve_node(client, node) if node else None
        return await client.pulse_history(rule=rule, node=target, limit=limit)

    g.emit(output.render(call(ctx, operation), g.format, history_view))


# --- weekly ------------------------------------------------------------------------------


def stamp(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def weekly_view(digest: WeeklyDigest) -> str:
    names = {u.node_id: u.node_name for u in digest.uptime}
    storage = digest.storage
    sign = "+" if storage.growth_bytes >= 0 else "-"
    before, after = output.size(storage.start_bytes), output.size(storage.end_bytes)
    head = output.pairs(
        [
            ("Period", f"{stamp(digest.since)} to {stamp(digest.until)}"),
            ("Storage", f"{sign}{output.size(abs(storage.growth_bytes))} ({before} -> {after})"),
            ("Tokens", sum(t.tokens for t in digest.tokens)),
        ]
    )
    parts = [head]
    if digest.uptime:
        rows = [[u.node_name, output.percent(u.uptime_percent), output.duration(u.online_s)]
                for u in digest.uptime]  # fmt: skip
        parts.append(output.table(["NODE", "UPTIME", "ONLINE"], rows))
    if digest.tasks:
        rows = [[where(t.node_id, names.get(t.node_id)) if t.node_id else "cluster total",
                 str(t.run), str(t.failed)] for t in digest.tasks]  # fmt: skip
        parts.append(output.table(["TASKS ON", "RUN", "FAILED"], rows))
    if digest.tokens:
        rows = [[t.model, where(t.node_id, names.get(t.node_id)), str(t.tokens)]
                for t in digest.tokens]  # fmt: skip
        parts.append(output.table(["MODEL", "NODE", "TOKENS"], rows))
    if digest.top_insights:
        rows = [[i.title, str(i.raised), output.duration(i.active_s)]
                for i in digest.top_insights]  # fmt: skip
        parts.append(output.table(["INSIGHT", "RAISED", "ACTIVE"], rows))
    if digest.missing:
        missing = ", ".join(names.get(m) or output.short_id(m) for m in digest.missing)
        parts.append(f"not asked (no answer): {missing}")
    return "\n\n".join(parts)


@pulse.command("weekly")
@global_options
@click.pass_context
def weekly(ctx: click.Context) -> None:
    """The last 7 days: uptime per member, tasks run and failed, storage growth, tokens.

    Also the insights raised most, and the members that could not be asked for their figures.
    """
    g = globals_of(ctx)
    g.emit(output.render(call(ctx, lambda client: client.pulse_weekly()), g.format, weekly_view))
