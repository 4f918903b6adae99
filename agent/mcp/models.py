"""MCP's wire shapes: what its routes answer, what the OpenAPI document publishes and what the
SDK parses. Request bodies are `StrictModel`s; answers are `Answer`s. Credentials appear only
in request bodies (write-only): no answer carries their values."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from agent.core.wire import Answer, StrictModel

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
# RFC 9110 token.
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$"
MAX_SERVERS = 64
MAX_ARGS = 64
MAX_ARG = 4096
MAX_COMMAND = 4096
MAX_PATH = 4096
MAX_URL = 4096
MAX_ENTRIES = 64
MAX_VALUE = 8192
MAX_DESCRIPTION = 1000
MAX_OPTIONS = 16
MAX_TOOL_NAME = 128
MAX_STDERR_LINES = 20
MAX_TOOL_DESCRIPTION = 8192
MAX_SCHEMA_BYTES = 64 * 1024
MAX_PEER_TIMEOUT = 3600.0

ServerName = Annotated[str, Field(pattern=NAME_PATTERN, description="Lowercase, 1-40 chars")]
ServerState = Literal["stopped", "starting", "ready", "failed"]
TransportType = Literal["stdio", "http"]
ServerChange = Literal["added", "removed", "enabled", "disabled"]
# Values go to a process's argv/env or to an HTTP header: NUL (and CR/LF in headers) never can.
ProcessText = Annotated[str, Field(max_length=MAX_VALUE, pattern=r"^[^\x00]*$")]
HeaderValue = Annotated[str, Field(max_length=MAX_VALUE, pattern=r"^[^\x00\r\n]*$")]
EnvKey = Annotated[str, Field(pattern=ENV_KEY_PATTERN)]
HeaderName = Annotated[str, Field(pattern=HEADER_NAME_PATTERN)]
ToolName = Annotated[str, Field(min_length=1, max_length=MAX_TOOL_NAME)]
Env = Annotated[dict[EnvKey, ProcessText], Field(max_length=MAX_ENTRIES)]
Headers = Annotated[dict[HeaderName, HeaderValue], Field(max_length=MAX_ENTRIES)]
# Env vars for a stdio server, headers for an http one (checked against the transport).
Credentials = Annotated[dict[HeaderName, HeaderValue], Field(max_length=MAX_ENTRIES)]


class StdioTransport(StrictModel):
    type: Literal["stdio"]
    command: Annotated[str, Field(min_length=1, max_length=MAX_COMMAND, pattern=r"^[^\x00]+$")]
    args: Annotated[
        list[Annotated[str, Field(max_length=MAX_ARG, pattern=r"^[^\x00]*$")]],
        Field(max_length=MAX_ARGS),
    ] = Field(default_factory=list)
    env: Env = Field(default_factory=dict)
    cwd: Annotated[str, Field(min_length=1, max_length=MAX_PATH, pattern=r"^[^\x00]+$")] | None = (
        None
    )


class HttpTransport(StrictModel):
    type: Literal["http"]
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL)]
    headers: Headers = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http:// or https:// URL with a host")
        if any(c in url for c in "\r\n\x00 "):
            raise ValueError("url must not hold spaces or control characters")
        return url


Transport = Annotated[StdioTransport | HttpTransport, Field(discriminator="type")]


class CreateServerBody(StrictModel):
    """Either a full definition (`name` and `transport`) or a builtin (`builtin`, with its
    `options`; `name` defaults to the builtin's)."""

    name: ServerName | None = None
    transport: Transport | None = None
    builtin: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    options: Annotated[
        dict[Annotated[str, Field(max_length=64)], ProcessText], Field(max_length=MAX_OPTIONS)
    ] = Field(default_factory=dict)
    credentials: Credentials = Field(
        default_factory=dict,
        description="Write-only: env vars (stdio) or headers (http); never answered",
    )
    enabled: bool = True
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""

    @model_validator(mode="after")
    def _one_kind(self) -> CreateServerBody:
        if self.builtin is None:
            if self.transport is None or self.name is None:
                raise ValueError("give either `builtin`, or `name` and `transport`")
            if self.options:
                raise ValueError("`options` only go with a `builtin`")
        elif self.transport is not None:
            raise ValueError("give either `builtin` or `transport`, not both")
        if self.transport is None or self.transport.type == "stdio":
            bad = sorted(k for k in self.credentials if not _is_env_key(k))
            if bad:
                raise ValueError(f"credentials of a stdio server are env var names: {bad[:5]}")
        return self


def _is_env_key(key: str) -> bool:
    return re.fullmatch(ENV_KEY_PATTERN, key) is not None


class ToggleBody(StrictModel):
    enabled: bool | None = Field(default=None, description="Absent: flip the current state")


class ToolTestBody(StrictModel):
    tool: ToolName | None = Field(default=None, description="Absent: list the tools")
    arguments: dict[str, Any] = Field(default_factory=dict)


class StdioTransportView(Answer):
    type: Literal["stdio"]
    command: str
    args: list[str]
    env: dict[str, str] = Field(description="Without the credentials")
    cwd: str | None


class HttpTransportView(Answer):
    type: Literal["http"]
    url: str
    headers: dict[str, str] = Field(description="Without the credentials")


TransportView = Annotated[StdioTransportView | HttpTransportView, Field(discriminator="type")]


class ServerInfo(Answer):
    name: str
    version: str


class McpServer(Answer):
    name: str
    description: str
    builtin: str | None = Field(description="The builtin it was made from, if any")
    transport: TransportView
    credential_names: list[str] = Field(description="Names of its credentials, sorted")
    enabled: bool
    node_id: str = Field(description="The node that runs it")
    state: ServerState
    reason: str | None = Field(description="Why it failed, or why it is restarting")
    restarts: int = Field(description="Restarts after a crash since it was last started")
    next_restart_at: float | None = Field(description="When it restarts next (epoch seconds)")
    tool_count: int | None
    server_info: ServerInfo | None
    started_at: float | None = Field(description="When it became ready (epoch seconds)")
    stderr_tail: list[str] = Field(description="Its last stderr lines, credentials redacted")


class ServerList(Answer):
    servers: list[McpServer]
    count: int


class ServerDeleted(Answer):
    name: str
    deleted: bool


class McpTool(Answer):
    server: str
    node_id: str = Field(description="The node that runs its server")
    name: str
    description: str
    input_schema: dict[str, Any] = Field(description="JSON Schema of its arguments")


class ServerTools(Answer):
    server: str
    node_id: str
    tools: list[McpTool]
    count: int


class ToolResult(Answer):
    text: str = Field(description="The content as text: text blocks joined, others summarised")
    is_error: bool
    structured: dict[str, Any] | None
    content: list[dict[str, Any]] = Field(description="The MCP content blocks as JSON")


class ToolTestTimings(Answer):
    start_ms: float | None = Field(description="Starting the server; null if already running")
    call_ms: float = Field(description="The tool call (or the tool listing)")
    total_ms: float


class ToolTestAnswer(Answer):
    server: str
    node_id: str
    tool: str | None
    tools: list[McpTool] | None = Field(description="When no tool was given")
    result: ToolResult | None = Field(description="When a tool was given")
    timings: ToolTestTimings


class ClusterTool(McpTool):
    node_name: str


class AllTools(Answer):
    tools: list[ClusterTool]
    count: int
    unreachable: list[str] = Field(description="Ids of the online members that did not answer")


class BuiltinOption(Answer):
    name: str
    description: str
    required: bool


class BuiltinNeed(Answer):
    what: str
    present: bool
    hint: str = Field(description="How to get it when missing")


class Builtin(Answer):
    name: str
    title: str
    description: str
    transport_type: TransportType
    options: list[BuiltinOption]
    credentials: list[str] = Field(description="Credential names it reads, if any")
    needs: list[BuiltinNeed]
    available: bool


class BuiltinList(Answer):
    builtins: list[Builtin]
    count: int


# Peer channel: what one member asks of another's servers.
class PeerToolsAnswer(Answer):
    tools: list[McpTool] = Field(description="The tools of its enabled servers")
    disabled: list[str] = Field(default_factory=list, description="Its disabled servers")


class PeerCallBody(StrictModel):
    server: ServerName
    tool: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict)
    timeout: Annotated[float, Field(gt=0, le=MAX_PEER_TIMEOUT)] | None = None


class PeerCallAnswer(Answer):
    text: str
    is_error: bool
    structured: dict[str, Any] | None
    duration_ms: float
