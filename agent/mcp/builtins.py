"""Integrations that can be enabled in one call (`POST /api/mcp/servers {builtin: NAME}`),
each saying what it needs and whether that is present on this node."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from agent.core.errors import BadRequest
from agent.mcp.models import Builtin, BuiltinNeed, BuiltinOption, StdioTransport


@dataclass(frozen=True, slots=True)
class Need:
    what: str
    present: Callable[[], bool]
    hint: str


@dataclass(frozen=True, slots=True)
class BuiltinSpec:
    name: str
    title: str
    description: str
    needs: tuple[Need, ...]
    options: tuple[BuiltinOption, ...]
    build: Callable[[dict[str, str], Path], StdioTransport]

    def view(self) -> Builtin:
        needs = [BuiltinNeed(what=n.what, present=n.present(), hint=n.hint) for n in self.needs]
        return Builtin(
            name=self.name,
            title=self.title,
            description=self.description,
            transport_type="stdio",
            options=list(self.options),
            credentials=[],
            needs=needs,
            available=all(n.present for n in needs),
        )


def _module(name: str, package: str) -> Need:
    return Need(
        f"Python module {name}",
        lambda: importlib.util.find_spec(name) is not None,
        f"pip install {package} (or pip install 'openfabric[builtins]')",
    )


def _binary(name: str, hint: str) -> Need:
    return Need(f"`{name}` on PATH", lambda: shutil.which(name) is not None, hint)


def _python(*args: str) -> Callable[[dict[str, str], Path], StdioTransport]:
    def build(options: dict[str, str], home: Path) -> StdioTransport:
        return StdioTransport(type="stdio", command=sys.executable, args=["-m", *args])

    return build


def _git(options: dict[str, str], home: Path) -> StdioTransport:
    repository = options["repository"]
    return StdioTransport(
        type="stdio",
        command=sys.executable,
        args=["-m", "mcp_server_git", "--repository", repository],
    )


def _fabric(options: dict[str, str], home: Path) -> StdioTransport:
    script = Path(sys.executable).parent / "openfabric"
    command, args = (
        (str(script), ["mcp", "serve"])
        if script.exists()
        else (sys.executable, ["-m", "cli", "mcp", "serve"])
    )
    return StdioTransport(
        type="stdio", command=command, args=args, env={"OPENFABRIC_HOME": str(home)}
    )


def _filesystem(options: dict[str, str], home: Path) -> StdioTransport:
    return StdioTransport(
        type="stdio",
        command="npx",
        args=["-y", "@modelcontextprotocol/server-filesystem", options["directory"]],
    )


def _fabric_cli() -> bool:
    return (Path(sys.executable).parent / "openfabric").exists() or (
        importlib.util.find_spec("cli") is not None
    )


BUILTINS: dict[str, BuiltinSpec] = {
    spec.name: spec
    for spec in (
        BuiltinSpec(
            "time",
            "Time",
            "Current time and time-zone conversion (the reference mcp-server-time).",
            (_module("mcp_server_time", "mcp-server-time"),),
            (),
            _python("mcp_server_time"),
        ),
        BuiltinSpec(
            "fetch",
            "Fetch",
            "Fetch a URL and read it as Markdown (the reference mcp-server-fetch).",
            (_module("mcp_server_fetch", "mcp-server-fetch"),),
            (),
            _python("mcp_server_fetch"),
        ),
        BuiltinSpec(
            "git",
            "Git",
            "Read and change one git repository: status, log, diff, commit "
            "(the reference mcp-server-git).",
            (
                _module("mcp_server_git", "mcp-server-git"),
                _binary("git", "install git from your system's packages"),
            ),
            (BuiltinOption(name="repository", description="A git work tree", required=True),),
            _git,
        ),
        BuiltinSpec(
            "fabric",
            "OpenFabric",
            "This cluster's own operations as tools: nodes, tasks, storage, brain search, "
            "chat and memory (`openfabric mcp serve`).",
            (Need("the openfabric command", _fabric_cli, "pip install openfabric"),),
            (),
            _fabric,
        ),
        BuiltinSpec(
            "filesystem",
            "Filesystem",
            "Read and write files under one folder (the npm reference server, run with npx).",
            (_binary("npx", "install Node.js (it brings npx): https://nodejs.org"),),
            (BuiltinOption(name="directory", description="The folder it may use", required=True),),
            _filesystem,
        ),
    )
}


async def resolve_builtin(name: str, options: dict[str, str], home: Path) -> BuiltinSpec:
    """The builtin, checked to be usable here with these options, else 400."""
    spec = BUILTINS.get(name)
    if spec is None:
        raise BadRequest(
            f"no builtin {name!r}: one of {', '.join(BUILTINS)}",
            code="MCP_BUILTIN_UNKNOWN",
            details={"builtins": list(BUILTINS)},
        )
    view = spec.view()
    missing = [need for need in view.needs if not need.present]
    if missing:
        raise BadRequest(
            f"builtin {name} needs {', '.join(n.what for n in missing)}: {missing[0].hint}",
            code="MCP_BUILTIN_UNAVAILABLE",
            details={"needs": [n.model_dump() for n in missing]},
        )
    known = {o.name for o in spec.options}
    unknown = sorted(set(options) - known)
    absent = [o.name for o in spec.options if o.required and not options.get(o.name)]
    if unknown or absent:
        raise BadRequest(
            f"builtin {name} takes options {sorted(known) or 'none'}"
            + (f"; missing: {', '.join(absent)}" if absent else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            code="MCP_BUILTIN_OPTIONS",
            details={"missing": absent, "unknown": unknown},
        )
    await _check_paths(name, options)
    return spec


async def _check_paths(name: str, options: dict[str, str]) -> None:
    if name == "filesystem" and not await anyio.Path(options["directory"]).is_dir():
        raise BadRequest(
            f"directory {options['directory']!r} is not a folder on this node",
            code="MCP_BUILTIN_OPTIONS",
        )
    if name == "git":
        repository = options["repository"]
        done = None
        if await anyio.Path(repository).is_dir():
            with anyio.move_on_after(10):
                done = await anyio.run_process(
                    ["git", "-C", repository, "rev-parse", "--is-inside-work-tree"], check=False
                )
        if done is None or done.returncode != 0 or done.stdout.strip() != b"true":
            raise BadRequest(
                f"repository {repository!r} is not a git work tree on this node",
                code="MCP_BUILTIN_OPTIONS",
            )
