"""`openfabric memory list|add|rm|search|clear`: Fabric Memory, the facts the assistant
remembers, the same on every member."""

from __future__ import annotations

import re

import click

from agent.client import AgentClient
from agent.memory.models import (
    FACT_ID_PATTERN,
    MAX_K,
    AddFactAnswer,
    Fact,
    FactList,
    FactRemoved,
    FactsCleared,
    FactSearchAnswer,
)
from cli import output
from cli.runtime import call, confirm, global_options, globals_of

TEXT_WIDTH = 80
NodeNames = dict[str, str]


@click.group("memory")
def memory() -> None:
    """The facts the assistant remembers, shared by every member."""


def flat(text: str, width: int = TEXT_WIDTH) -> str:
    """`text` on one line, cut to `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


async def node_names(client: AgentClient) -> NodeNames:
    return {node.node_id: node.name for node in await client.nodes()}


def node_label(node_id: str, names: NodeNames) -> str:
    return names.get(node_id) or output.short_id(node_id)


def source_label(fact: Fact) -> str:
    if fact.session_id:
        return f"{fact.source} ({output.short_id(fact.session_id, 8)})"
    return fact.source


# --- list --------------------------------------------------------------------------------


def list_view(listing: FactList, names: NodeNames, history: bool) -> str:
    if not listing.facts:
        return "no facts remembered" if not history else "no facts remembered, none in history"
    headers = ["ID", "KEY", "TAGS", "SOURCE", "NODE", "AGE"]
    if history:
        headers.append("STATE")
    rows = []
    for fact in listing.facts:
        row = [
            output.short_id(fact.id),
            fact.key or "-",
            ",".join(fact.tags) or "-",
            source_label(fact),
            node_label(fact.node_id, names),
            output.ago(fact.created_at),
        ]
        if history:
            replaced = fact.superseded_by
            row.append(f"superseded by {output.short_id(replaced)}" if replaced else "active")
        rows.append([*row, flat(fact.text)])
    return output.table([*headers, "TEXT"], rows)


@memory.command("list")
@click.option("--all", "history", is_flag=True, help="Also the superseded facts (history).")
@global_options
@click.pass_context
def list_facts(ctx: click.Context, history: bool) -> None:
    """The active facts, newest first.

    Each with its key, tags, who stated it (by hand, in a chat, by an agent) and where.
    """
    g = globals_of(ctx)
    names: NodeNames = {}

    async def operation(client: AgentClient) -> FactList:
        if g.format == "table":
            names.update(await node_names(client))
        return await client.memory_list(include_superseded=history)

    listing = call(ctx, operation)
    g.emit(output.render(listing, g.format, lambda found: list_view(found, names, history)))


# --- add ---------------------------------------------------------------------------------


def added_line(answer: AddFactAnswer) -> str:
    fact = answer.fact
    if answer.outcome == "existing":
        return f"already remembered as {fact.id}: {flat(fact.text)}"
    if answer.outcome == "superseded":
        replaced = ", ".join(answer.superseded) or "none"
        return f"remembered {fact.id}, superseding {replaced}: {flat(fact.text)}"
    return f"remembered {fact.id}: {flat(fact.text)}"


@memory.command("add")
@click.argument("text")
@click.option("--key", metavar="K", help="A stable name (e.g. user.editor); replaces its fact.")
@click.option("--tag", "tags", multiple=True, metavar="T", help="A tag (repeatable).")
@global_options
@click.pass_context
def add(ctx: click.Context, text: str, key: str | None, tags: tuple[str, ...]) -> None:
    """Remember TEXT.

    The same fact twice is kept once. A fact with the key of an active one replaces it; the
    old one stays in the history (`memory list --all`).
    """
    g = globals_of(ctx)
    answer = call(ctx, lambda client: client.memory_add(text, key=key, tags=tags))
    g.emit(output.render(answer, g.format, added_line))


# --- rm ----------------------------------------------------------------------------------


async def resolve_fact(client: AgentClient, fact_id: str) -> str:
    """A fact's full ID from a unique prefix of it (the short IDs `memory list` shows);
    anything else is passed on as it is, for the agent to judge."""
    if re.fullmatch(FACT_ID_PATTERN, fact_id):
        return fact_id
    facts = (await client.memory_list(include_superseded=True)).facts
    matches = [fact.id for fact in facts if fact.id.startswith(fact_id)]
    return matches[0] if len(matches) == 1 else fact_id


@memory.command("rm")
@click.argument("fact_id", metavar="ID")
@global_options
@click.pass_context
def remove(ctx: click.Context, fact_id: str) -> None:
    """Forget one fact on every member (ID may be a unique prefix)."""
    g = globals_of(ctx)

    async def operation(client: AgentClient) -> FactRemoved:
        return await client.memory_remove(await resolve_fact(client, fact_id.strip().lower()))

    removed = call(ctx, operation)
    g.emit(output.render(removed, g.format, lambda r: f"removed {r.id}"))


# --- search ------------------------------------------------------------------------------


def search_view(found: FactSearchAnswer) -> str:
    if not found.hits:
        return f"nothing remembered matches {found.query!r}"
    rows = [
        [f"{hit.score:.4f}", output.short_id(hit.fact.id), hit.fact.key or "-", flat(hit.fact.text)]
        for hit in found.hits
    ]
    return output.table(["SCORE", "ID", "KEY", "TEXT"], rows)


@memory.command("search")
@click.argument("query")
@click.option("-k", type=click.IntRange(1, MAX_K), default=10, show_default=True,
              help="How many facts.")  # fmt: skip
@global_options
@click.pass_context
def search(ctx: click.Context, query: str, k: int) -> None:
    """The K facts closest in meaning to QUERY, best first, with their scores."""
    g = globals_of(ctx)
    found = call(ctx, lambda client: client.memory_search(query, k=k))
    g.emit(output.render(found, g.format, search_view))


# --- clear -------------------------------------------------------------------------------


def cleared_line(cleared: FactsCleared) -> str:
    return f"removed {cleared.removed} fact{'s' * (cleared.removed != 1)}, history included"


@memory.command("clear")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def clear(ctx: click.Context, yes: bool) -> None:
    """Forget every fact, history included, on every member.

    Asks first on a terminal; elsewhere --yes is required.
    """
    g = globals_of(ctx)
    confirm("Forget every fact on every member?", yes, refused="nothing cleared")
    cleared = call(ctx, lambda client: client.memory_clear())
    g.emit(output.render(cleared, g.format, cleared_line))
