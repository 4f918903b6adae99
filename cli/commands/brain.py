"""`openfabric brain status|search|reindex|forget`: the Fabric Brain, retrieval over the
documents every node indexes from its own folders."""

from __future__ import annotations

import os
from contextlib import aclosing
from typing import get_args

import click

from agent.brain.models import MAX_K, SearchMode
from agent.client import (
    AgentClient,
    BrainForgotten,
    BrainHit,
    BrainSearchAnswer,
    BrainStatus,
    ClientError,
    ReindexProgress,
)
from cli import output
from cli.commands.tasks import resolve_node
from cli.progress import Progress, wanted
from cli.runtime import call, global_options, globals_of

SNIPPET_WIDTH = 100


@click.group("brain")
def brain() -> None:
    """Retrieval over the documents in every node's brain folders."""


def absolute(path: str) -> str:
    """`path` as the agent needs it: absolute, `~` expanded, `.`/`..` folded (symlinks are
    kept, so a path under a source stays under it as the source is written)."""
    return os.path.abspath(os.path.expanduser(path))


# --- status ------------------------------------------------------------------------------


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def status_view(status: BrainStatus) -> str:
    state = "available" if status.available else "unavailable"
    if not status.available and status.unavailable_reason:
        state += f": {status.unavailable_reason}"
    skipped = ", ".join(f"{reason} {n}" for reason, n in sorted(status.skipped.items()) if n)
    model = status.model + (" (loaded)" if status.model_loaded else " (not loaded yet)")
    if status.dimensions:
        model += f", {status.dimensions} dimensions"
    queue = f"{status.queue} files" + (", indexing" if status.indexing else "")
    head = output.pairs(
        [
            ("Node", status.node_id),
            ("State", state),
            ("Watching", _yes(status.watching)),
            ("Files", status.files),
            ("Chunks", status.chunks),
            ("Skipped", skipped or "none"),
            ("Model", model),
            ("Index", f"{output.size(status.index_bytes)}, {status.deleted_slots} free slots"),
            ("Queue", queue),
            ("Rate", f"{status.embedding_rate:.1f} chunks/s"),
            ("Last change", output.ago(status.last_change)),
        ]
    )
    parts = [head]
    if status.sources:
        rows = [[s.path, _yes(s.exists), s.files, s.chunks] for s in status.sources]
        parts.append(output.table(["SOURCE", "EXISTS", "FILES", "CHUNKS"], rows))
    else:
        parts.append("no sources (add one with 'openfabric brain reindex --add DIR')")
    if status.skipped_files:
        rows = [[f.path, f.reason, f.detail] for f in status.skipped_files]
        parts.append(output.table(["SKIPPED FILE", "REASON", "DETAIL"], rows))
    return "\n\n".join(parts)


@brain.command("status")
@global_options
@click.pass_context
def status(ctx: click.Context) -> None:
    """This node's index: sources, counts, model, queue.

    Also the files skipped, by reason, and the recent embedding rate.
    """
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.brain_status())
    g.emit(output.render(result, g.format, status_view))


# --- search ------------------------------------------------------------------------------


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_WIDTH else flat[: SNIPPET_WIDTH - 1] + "…"


def hit_block(n: int, hit: BrainHit) -> str:
    where = f"{hit.path}:{hit.start_line}-{hit.end_line}"
    lines = [f"[{n}] {hit.score:.4f}  {hit.node_name or output.short_id(hit.node_id)}  {where}"]
    if hit.heading:
        lines.append("    " + " > ".join(hit.heading))
    lines.append("    " + _snippet(hit.snippet))
    return "\n".join(lines)


def search_view(found: BrainSearchAnswer) -> str:
    blocks = [hit_block(n, hit) for n, hit in enumerate(found.hits, 1)]
    if not blocks:
        blocks.append(f"nothing found for {found.query!r}")
    nodes = len(found.searched)
    results = f"{found.count} result{'s' * (found.count != 1)}"
    summary = f"{results} ({found.mode}) from {nodes} node{'s' * (nodes != 1)}"
    blocks.append(f"{summary} in {found.took_ms:.0f} ms")
    for miss in found.not_searched:
        blocks.append(f"not searched: {miss.name} ({output.short_id(miss.node_id)}): {miss.reason}")
    return "\n\n".join(blocks)


@brain.command("search")
@click.argument("query")
@click.option("-k", type=click.IntRange(1, MAX_K), default=10, show_default=True,
              help="How many results.")  # fmt: skip
@click.option(
    "--mode",
    type=click.Choice(get_args(SearchMode)),
    default="hybrid",
    show_default=True,
    help="vector (meaning), lexical (words) or hybrid (both, fused).",
)
@click.option("--node", metavar="NODE", help="Search only this node (ID, short ID or name).")
@click.option("--path", "prefix", metavar="PREFIX", help="Only files under this path prefix.")
@global_options
@click.pass_context
def search(
    ctx: click.Context, query: str, k: int, mode: SearchMode, node: str | None, prefix: str | None
) -> None:
    """The K best passages for QUERY across the cluster.

    Each result shows its score, node, path and lines, the headings above it and a snippet;
    members that could not be searched (offline, not answering) are named at the end.
    """
    g = globals_of(ctx)

    async def operation(client: AgentClient) -> BrainSearchAnswer:
        target = await resolve_node(client, node) if node else None
        return await client.brain_search(query, k=k, mode=mode, node=target, path=prefix)

    g.emit(output.render(call(ctx, operation), g.format, search_view))


# --- reindex -----------------------------------------------------------------------------


class ReindexMeter(Progress):
    """The scan on one line of stderr: files done / seen, chunks, rate."""

    def __init__(self, enabled: bool) -> None:
        super().__init__("reindex", None, enabled=enabled)
        self.step: ReindexProgress | None = None

    def show(self, step: ReindexProgress) -> None:
        self.step = step
        self.update(0)

    def line(self, now: float) -> str:
        step = self.step
        if step is None:
            return "reindex: scanning"
        return (
            f"reindex  {step.files_done}/{step.files_seen} files  "
            f"{step.chunks_embedded} chunks embedded, {step.chunks_reused} reused  "
            f"{step.rate:.1f} chunks/s"
        )


def summary_line(done: ReindexProgress) -> str:
    return (
        f"reindexed {done.files_done} files in {done.elapsed_s:.1f}s: "
        f"{done.chunks_embedded} chunks embedded, {done.chunks_reused} reused, "
        f"{done.skipped} skipped, {done.removed} removed"
    )


def changed_sources(current: list[str], add: tuple[str, ...], remove: tuple[str, ...]) -> list[str]:
    """The source list with `remove` taken out and `add` appended; a `remove` that is not a
    source is an error (naming the sources), an `add` that already is one changes nothing."""
    sources = list(current)
    for path in map(absolute, remove):
        kept = [s for s in sources if os.path.normpath(s) != path]
        if len(kept) == len(sources):
            listed = ", ".join(current) or "none"
            raise ClientError(f"{path} is not a brain source (sources: {listed})")
        sources = kept
    for path in map(absolute, add):
        if all(os.path.normpath(s) != path for s in sources):
            sources.append(path)
    return sources


@brain.command("reindex")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--source", "sources", multiple=True, metavar="DIR",
              help="Index these folders instead of the current ones (repeatable).")  # fmt: skip
@click.option("--add", multiple=True, metavar="DIR", help="Add a folder to the sources.")
@click.option("--remove", multiple=True, metavar="DIR", help="Stop indexing a source folder.")
@global_options
@click.pass_context
def reindex(
    ctx: click.Context,
    paths: tuple[str, ...],
    sources: tuple[str, ...],
    add: tuple[str, ...],
    remove: tuple[str, ...],
) -> None:
    """Rescan the sources (or only PATHs), or change them.

    --source replaces the source list; --add and --remove change the current one. The new
    list is kept by the agent across restarts, and everything in it is rescanned. Shows the
    scan's progress on a terminal, then prints a summary line.
    """
    if sources and (add or remove):
        raise click.UsageError("give --source, or --add/--remove, not both")
    if paths and (sources or add or remove):
        raise click.UsageError("give PATHs to rescan, or change the sources, not both")
    g = globals_of(ctx)
    meter = ReindexMeter(wanted(g.quiet))

    async def operation(client: AgentClient) -> ReindexProgress:
        replacing: list[str] | None = [absolute(s) for s in sources] if sources else None
        if add or remove:
            current = [s.path for s in (await client.brain_status()).sources]
            replacing = changed_sources(current, add, remove)
        rescan = [absolute(p) for p in paths] if paths else None
        try:
            async with aclosing(client.brain_reindex(rescan, replacing)) as stream:
                async for step in stream:
                    meter.show(step)
                    if step.done:
                        return step
        finally:
            meter.close()  # before any error message, so it starts on a line of its own
        raise ClientError("the agent ended the reindex before the scan was done")

    def interrupted() -> None:
        meter.close()
        click.echo("openfabric: stopped watching the reindex", err=True)

    done = call(ctx, operation, on_interrupt=interrupted)
    g.emit(output.render(done, g.format, summary_line))


# --- forget ------------------------------------------------------------------------------


def forgot_line(result: BrainForgotten) -> str:
    files = ", ".join(result.paths) or "no file"
    return f"forgot {result.content_hash}: {result.chunks} chunks of {files}"


@brain.command("forget")
@click.argument("content_hash", metavar="HASH")
@global_options
@click.pass_context
def forget(ctx: click.Context, content_hash: str) -> None:
    """Drop a file from this node's index by its SHA-256.

    Every chunk of the file whose content hash is HASH leaves the index.
    """
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.brain_forget(content_hash.strip().lower()))
    g.emit(output.render(result, g.format, forgot_line))
