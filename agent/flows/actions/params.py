"""What each action takes in `with` and answers as outputs.

`PARAMS` gives every action's parameters model: the keys of a step's `with` are checked
against it when the flow is saved (a value may be an expression, so its type is checked when
the step runs, after evaluation). `OUTPUTS` names what an action answers, so a reference to
`steps.x.outputs.nope` is refused on save; None means the outputs are the callee's own
(a sub-flow's `outputs`, checked against that flow).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from agent.core.wire import StrictModel
from agent.flows.definition import MAX_DURATION_S, TOPIC_PATTERN, parse_duration

MAX_TEXT = 1_000_000
MAX_COMMAND = 64 * 1024
MAX_PATH = 4096
MAX_URL = 4096
LongText = Annotated[str, Field(max_length=MAX_TEXT)]
Path_ = Annotated[str, Field(min_length=1, max_length=MAX_PATH)]
Seconds = Annotated[
    float, BeforeValidator(parse_duration), Field(gt=0, le=MAX_DURATION_S, description="Seconds")
]


class TaskRunParams(StrictModel):
    command: Annotated[str, Field(min_length=1, max_length=MAX_COMMAND)]
    node: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default="any", description="A node id or name, `local` (the node running the flow) or any"
    )
    cwd: Path_ | None = None
    env: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=8192)]] = (
        Field(default_factory=dict, max_length=64)
    )
    allow_failure: bool = Field(default=False, description="A non-zero exit does not fail it")


class ChatMessage(StrictModel):
    role: Literal["system", "user", "assistant"]
    content: LongText


class LlmChatParams(StrictModel):
    prompt: LongText | None = None
    messages: list[ChatMessage] | None = Field(default=None, max_length=200)
    system: LongText | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    use_brain: bool = False
    use_memory: bool = False
    mcp_servers: list[Annotated[str, Field(max_length=40)]] | Literal["all"] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> LlmChatParams:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give either `prompt` or `messages`")
        return self


class BrainSearchParams(StrictModel):
    query: Annotated[str, Field(min_length=1, max_length=4000)]
    k: Annotated[int, Field(ge=1, le=50)] = 5
    path: Path_ | None = None
    node: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class StoragePutParams(StrictModel):
    path: Path_ = Field(description="Where in shared storage")
    content: LongText | None = Field(default=None, description="Text to store")
    file: Path_ | None = Field(
        default=None, description="A file on the node running the flow, to store"
    )

    @model_validator(mode="after")
    def _one_source(self) -> StoragePutParams:
        if (self.content is None) == (self.file is None):
            raise ValueError("give either `content` or `file`")
        return self


class StorageGetParams(StrictModel):
    path: Path_
    max_bytes: Annotated[int, Field(ge=1, le=MAX_TEXT)] = MAX_TEXT


class StorageLsParams(StrictModel):
    prefix: Annotated[str, Field(max_length=MAX_PATH)] = ""
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


class StorageRmParams(StrictModel):
    path: Path_
    missing_ok: bool = False


class McpCallParams(StrictModel):
    server: Annotated[str, Field(min_length=1, max_length=40)]
    tool: Annotated[str, Field(min_length=1, max_length=128)]
    arguments: dict[str, Any] = Field(default_factory=dict, max_length=100)


class HttpRequestParams(StrictModel):
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL)]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=8192)]] = (
        Field(default_factory=dict, max_length=64)
    )
    body: str | dict[str, Any] | list[Any] | None = Field(
        default=None, description="Text, or JSON (sent as application/json)"
    )
    max_bytes: Annotated[int, Field(ge=1, le=MAX_TEXT)] = MAX_TEXT
    fail_on_status: bool = Field(default=True, description="A 4xx or 5xx answer fails the step")


class FlowRunParams(StrictModel):
    flow: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="The sub-flow's id or name"
    )
    inputs: dict[Annotated[str, Field(max_length=64)], Any] = Field(
        default_factory=dict, max_length=50
    )


class WaitParams(StrictModel):
    duration: Seconds | None = Field(default=None, description="Go on after this long")
    event: Annotated[str, Field(pattern=TOPIC_PATTERN)] | None = Field(
        default=None, description="Go on when an event of this topic is published"
    )
    filter: Annotated[str, Field(max_length=4000)] | None = Field(
        default=None, description="A condition over `event` the awaited event must meet"
    )
    timeout: Seconds | None = Field(
        default=None, description="With `event`: fail after this long without one"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> WaitParams:
        if (self.duration is None) == (self.event is None):
            raise ValueError("give either `duration` or `event`")
        if self.event is None and (self.filter is not None or self.timeout is not None):
            raise ValueError("`filter` and `timeout` go with `event`")
        return self


class NotifyParams(StrictModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    message: Annotated[str, Field(max_length=2000)] = ""
    severity: Literal["info", "warning", "critical"] = "info"


PARAMS: dict[str, type[BaseModel]] = {
    "task.run": TaskRunParams,
    "llm.chat": LlmChatParams,
    "brain.search": BrainSearchParams,
    "storage.put": StoragePutParams,
    "storage.get": StorageGetParams,
    "storage.ls": StorageLsParams,
    "storage.rm": StorageRmParams,
    "mcp.call": McpCallParams,
    "http.request": HttpRequestParams,
    "flow.run": FlowRunParams,
    "wait": WaitParams,
    "notify": NotifyParams,
}

OUTPUTS: dict[str, frozenset[str] | None] = {
    "task.run": frozenset({"task_id", "node_id", "exit_code", "stdout", "stderr", "state"}),
    "llm.chat": frozenset({"text", "model", "node_id", "prompt_tokens", "completion_tokens"}),
    "brain.search": frozenset({"passages", "text", "count"}),
    "storage.put": frozenset({"path", "size", "sha256"}),
    "storage.get": frozenset({"path", "content", "size", "truncated"}),
    "storage.ls": frozenset({"files", "paths", "count"}),
    "storage.rm": frozenset({"path", "deleted"}),
    "mcp.call": frozenset({"text", "structured", "node_id"}),
    "http.request": frozenset({"status", "headers", "body", "json", "truncated"}),
    "flow.run": None,
    "wait": frozenset({"waited_s", "event"}),
    "notify": frozenset({"insight_id", "title"}),
}
