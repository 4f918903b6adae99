"""`openfabric llm chat` (one question, or an interactive chat kept in a session) and
`openfabric llm sessions list|show|rename|rm`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any, Literal, TypeVar

import click

from agent.client import AgentClient, AgentUnavailable, ChatEvent, ClientError
from cli import output
from cli.commands import llm_views as views
from cli.commands.tasks import resolve_node
from cli.runtime import Globals, call, fail, global_options, globals_of, interactive, locate

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
PROMPT = ">>> "
EXIT_COMMANDS = ("/exit", "/quit", "/bye")
STDIN = "-"
TOOL_PREVIEW = 160
Servers = list[str] | Literal["all"]


async def node_name(client: AgentClient, node_id: str | None) -> str | None:
    """A node's name for the stats line; None when it cannot be told (never fails)."""
    if not node_id:
        return None
    try:
        members = await client.nodes()
    except ClientError:
        return None
    return next((n.name for n in members if n.node_id == node_id), None)


def citations(sources: Any) -> list[str]:
    """The documents an answer drew on, as it numbers them: `[n] node:path:start-end`."""
    if not isinstance(sources, list):
        return []
    lines = []
    for source in sources:
        if not isinstance(source, Mapping):
            continue
        node = source.get("node_name") or output.short_id(str(source.get("node_id") or "?"))
        lines.append(
            f"[{source.get('n')}] {node}:{source.get('path')}:"
            f"{source.get('start_line')}-{source.get('end_line')}"
        )
    return lines


def tool_servers(value: str | None) -> Servers | None:
    """`--tools`: "all", or MCP server names separated by commas."""
    if value is None:
        return None
    if value.strip() == "all":
        return "all"
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one MCP server, or 'all'", param_hint="--tools")
    return names


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TOOL_PREVIEW else flat[: TOOL_PREVIEW - 1] + "…"


def tool_line(kind: str, data: Mapping[str, Any]) -> str:
    """A tool call or its result, in one line: `→ time.now {"tz": "UTC"}`, `← time.now: …`."""
    name = f"{data.get('server') or '?'}.{data.get('tool')}"
    if kind == "tool_call":
        return _preview(f"→ {name} {json.dumps(data.get('arguments') or {})}")
    failed = " failed" if data.get("is_error") else ""
    return _preview(f"← {name}{failed}: {data.get('text') or ''}")


class BrainAsk:
    """What `--brain`, `--brain-k`, `--brain-path` and `--brain-node` ask of a chat: whether
    it draws on the cluster's documents, and the `brain` narrowing of what it retrieves;
    `--memory` asks for remembered facts (and for learning new ones); `--tools` for the MCP
    servers whose tools the model may call."""

    def __init__(
        self,
        on: bool,
        k: int | None,
        path: str | None,
        node: str | None,
        memory: bool = False,
        tools: Servers | None = None,
    ) -> None:
        # Any narrowing asks for the brain: `--brain-k 3` alone means it.
        self.on = on or k is not None or path is not None or node is not None
        self.k, self.path, self.node = k, path, node
        self.memory = memory
        self.tools = tools

    async def body(self, client: AgentClient) -> dict[str, Any] | None:
        """The `brain` field, with --brain-node resolved to an ID; None when nothing narrows."""
        node = await resolve_node(client, self.node) if self.node else None
        found = {"k": self.k, "path": self.path, "node": node}
        return {key: value for key, value in found.items() if value is not None} or None


def brain_options(command: F) -> F:
    options = [
        click.option(
            "--brain", "use_brain", is_flag=True, help="Answer from the cluster's documents."
        ),
        click.option(
            "--brain-k",
            type=click.IntRange(min=1),
            metavar="N",
            help="How many passages to retrieve [default: the agent's].",
        ),
        click.option("--brain-path", metavar="PREFIX", help="Only documents under this path."),
        click.option(
            "--brain-node", metavar="NODE", help="Only this node's documents (ID or name)."
        ),
        click.option(
            "--memory",
            "use_memory",
            is_flag=True,
            help="Recall facts remembered about you, and remember new ones from the chat.",
        ),
        click.option(
            "--tools",
            metavar="NAME[,NAME]|all",
            help="Let the model call these MCP servers' tools ('all': every enabled server).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


async def answer(
    g: Globals, client: AgentClient, stream: AsyncGenerator[ChatEvent, None]
) -> dict[str, Any]:
    """Print an answer as it streams in, then the documents it cites and its stats
    (stderr); returns the `done` data.

    Table format writes the text as it arrives; json and yaml write the `done` event's data
    (stats, `sources` and the whole answer in `content`) once it is complete.
    """
    last = "\n"
    try:
        async with aclosing(stream):
            async for event in stream:
                if event.kind == "token" and g.format == "table" and event.content:
                    g.write(event.content)
                    last = event.content[-1]
                elif event.kind in ("tool_call", "tool_result"):
                    g.note(tool_line(event.kind, event.data))
                elif event.kind == "done":
                    done = event.data
                    break
            else:
                raise ClientError("the agent ended the chat before the answer was done")
    finally:
        if last != "\n":
            g.write("\n")
    if g.format != "table":
        g.emit(output.render(done, g.format, str))
        return done
    if cited := citations(done.get("sources")):
        g.emit("\n" + "\n".join(cited))
    if recalled := done.get("facts"):
        g.note(f"recalled {len(recalled)} remembered fact{'' if len(recalled) == 1 else 's'}")
    if not g.quiet:
        g.note(views.stats_line(done, await node_name(client, done.get("node_id"))))
    return done


def _title(text: str) -> str:
    flat = " ".join(text.split())[:80]
    return flat or "New chat"


@click.command("chat")
@click.argument("model")
@click.option(
    "--prompt",
    "-p",
    metavar="TEXT",
    help="Ask this once and print the answer ('-' reads it from stdin).",
)
@click.option("--session", "session_id", metavar="ID", help="Continue this chat session.")
@click.option("--new-session", is_flag=True, help="Keep the exchange in a new session (-p only).")
@brain_options
@global_options
@click.pass_context
def chat(
    ctx: click.Context,
    model: str,
    prompt: str | None,
    session_id: str | None,
    new_session: bool,
    use_brain: bool,
    brain_k: int | None,
    brain_path: str | None,
    brain_node: str | None,
    use_memory: bool,
    tools: str | None,
) -> None:
    """Chat with MODEL, wherever it is in the cluster.

    With -p, asks once: the answer streams to stdout, then a stats line (node, tokens,
    tokens/s, time to the first token) goes to stderr unless --quiet. Without -p, chats
    interactively in a session (a new one unless --session is given), so every answer knows
    what was said before; '/exit' or Ctrl-D ends the chat, Ctrl-C stops an answer.

    With --brain (or any --brain-* option), answers draw on the documents the cluster's
    brain indexes, and the passages an answer cites are listed under it as
    '[n] node:path:start-end'. With --memory, the facts remembered about you go with each
    message, and new ones you state are remembered ('openfabric memory list' shows them).
    With --tools, the model may call the tools of the MCP servers named ('openfabric mcp
    servers' lists them), or of every enabled one with 'all'; each call and its result are
    noted on stderr as they happen.
    """
    if session_id is not None and new_session:
        raise click.UsageError("give either --session or --new-session, not both")
    g = globals_of(ctx)
    ask = BrainAsk(use_brain, brain_k, brain_path, brain_node, use_memory, tool_servers(tools))
    if prompt is None:
        _repl(g, model, session_id, ask)
        return
    if prompt == STDIN:
        prompt = sys.stdin.read()

    async def operation(client: AgentClient) -> Any:
        sid = session_id
        if new_session:
            sid = (await client.create_session(title=_title(prompt), model=model)).session_id
            g.note(f"session {sid}")
        brain = await ask.body(client) if ask.on else None
        if sid is None:
            messages = [{"role": "user", "content": prompt}]
            stream = client.chat(
                model,
                messages,
                use_brain=ask.on,
                brain=brain,
                use_memory=ask.memory,
                mcp_servers=ask.tools,
            )
        else:
            stream = client.chat(
                model,
                session_id=sid,
                message=prompt,
                use_brain=ask.on,
                brain=brain,
                use_memory=ask.memory,
                mcp_servers=ask.tools,
            )
        return await answer(g, client, stream)

    call(ctx, operation, on_interrupt=lambda: click.echo("\nopenfabric: stopped", err=True))


def _repl(g: Globals, model: str, session_id: str | None, ask: BrainAsk) -> None:
    g.configure_logging()
    url, token = locate(g)

    def run(operation: Callable[[AgentClient], Awaitable[T]]) -> T:
        # One event loop per turn: reading the next line happens outside any loop, so
        # Ctrl-C there behaves as in any prompt.
        async def turn() -> T:
            async with AgentClient(url, token) as client:
                return await operation(client)

        return asyncio.run(turn())

    brain: dict[str, Any] | None = None
    try:
        if ask.on:
            brain = run(ask.body)
        if session_id is None:
            created = run(lambda c: c.create_session(title=f"chat with {model}", model=model))
            session_id = created.session_id
        else:
            existing = session_id
            found = run(lambda c: c.session(existing))
            g.note(f"resuming session {existing} ({found.message_count} messages)")
    except ClientError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise click.exceptions.Exit(130) from None
    sid: str = session_id
    if interactive():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401  (line editing and history for input())
    g.note(f"chatting with {model} in session {sid}; '/exit' or Ctrl-D ends the chat")
    while True:
        try:
            line = input(PROMPT)
        except EOFError:
            break
        except KeyboardInterrupt:
            click.echo("", err=True)
            continue
        text = line.strip()
        if not text:
            continue
        if text.lower() in EXIT_COMMANDS:
            break

        def reply(client: AgentClient, said: str = text) -> Awaitable[dict[str, Any]]:
            stream = client.chat(
                model,
                session_id=sid,
                message=said,
                use_brain=ask.on,
                brain=brain,
                use_memory=ask.memory,
                mcp_servers=ask.tools,
            )
            return answer(g, client, stream)

        try:
            run(reply)
        except AgentUnavailable as exc:
            fail(str(exc))
        except ClientError as exc:
            click.echo(f"openfabric: {exc}", err=True)
        except KeyboardInterrupt:
            click.echo("openfabric: answer stopped", err=True)
    g.note(f"session {sid} is kept: 'openfabric llm chat {model} --session {sid}' resumes it")


# --- sessions ------------------------------------------------------------------------------


@click.group("sessions")
def sessions() -> None:
    """Stored chat sessions."""


@sessions.command("list")
@global_options
@click.pass_context
def list_sessions(ctx: click.Context) -> None:
    """Chat sessions, most recently used first."""
    g = globals_of(ctx)
    listing = call(ctx, lambda client: client.sessions())
    g.emit(output.render(listing, g.format, views.sessions_table))


@sessions.command("show")
@click.argument("session_id", metavar="ID")
@global_options
@click.pass_context
def show(ctx: click.Context, session_id: str) -> None:
    """A chat session with all its messages."""
    g = globals_of(ctx)
    session = call(ctx, lambda client: client.session(session_id))
    g.emit(output.render(session, g.format, views.session_view))


@sessions.command("rename")
@click.argument("session_id", metavar="ID")
@click.argument("title")
@global_options
@click.pass_context
def rename(ctx: click.Context, session_id: str, title: str) -> None:
    """Give a chat session a new TITLE."""
    g = globals_of(ctx)
    session = call(ctx, lambda client: client.rename_session(session_id, title))
    g.emit(output.render(session, g.format, lambda s: f"renamed {s.session_id}: {s.title}"))


@sessions.command("rm")
@click.argument("session_id", metavar="ID")
@global_options
@click.pass_context
def rm(ctx: click.Context, session_id: str) -> None:
    """Delete a chat session and its messages."""
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.delete_session(session_id))
    g.emit(output.render(result, g.format, lambda r: f"deleted session {r.session_id}"))
