"""What the LLM streams carry: the generation events a node relays (also from a member over
`POST /peer/llm/chat`, as NDJSON; `tool_calls` when the model asks for tools), the steps of a
pull (also over `POST /peer/llm/pull`), and the payloads of the `POST /api/llm/chat` stream's
`start`, `tool_call`, `tool_result` and `done` events.

A member's lines are parsed with these models, so a line of another shape is an error of that
stream, never a crash of the relay.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from agent.core.wire import Answer
from agent.llm.models_chat import (
    FACTS_HELP,
    TOOLS_HELP,
    ChatFact,
    ChatSource,
    ChatStats,
    ChatToolUse,
)

# Bounds on what a member's stream may carry for one answer's tool calls.
MAX_CALLS_PER_ANSWER = 64
MAX_FUNCTION_NAME = 256


class TokenEvent(Answer):
    type: Literal["token"] = "token"
    content: str


class DoneEvent(Answer):
    type: Literal["done"] = "done"
    done_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    eval_duration_ns: int | None = None
    total_duration_ns: int | None = None


class ErrorEvent(Answer):
    type: Literal["error"] = "error"
    error: str


class FunctionCall(Answer):
    """A call the model asked for, as Ollama says it: a function name and its arguments."""

    name: Annotated[str, Field(max_length=MAX_FUNCTION_NAME)]
    arguments: dict[str, Any]


class ToolCallsEvent(Answer):
    """The model asked for tool calls instead of (or after) text."""

    type: Literal["tool_calls"] = "tool_calls"
    calls: Annotated[list[FunctionCall], Field(max_length=MAX_CALLS_PER_ANSWER)]


GenerationEvent = Annotated[
    TokenEvent | DoneEvent | ErrorEvent | ToolCallsEvent, Field(discriminator="type")
]
GENERATION_EVENT: TypeAdapter[GenerationEvent] = TypeAdapter(GenerationEvent)


class PullProgress(Answer):
    """One of Ollama's progress reports; a layer's carry its digest and byte counts."""

    status: str | None = None
    digest: str | None = None
    completed: int | None = None
    total: int | None = None
    percent: float | None = None


class PullFinished(Answer):
    done: Literal[True]  # required: without it, any progress report would parse as this


class StreamError(Answer):
    """The last event of a chat or pull stream that failed."""

    error: str
    error_code: str


# The first that fits: a progress report has no required field, so it comes last.
PullStep = Annotated[StreamError | PullFinished | PullProgress, Field(union_mode="left_to_right")]
PULL_STEP: TypeAdapter[PullStep] = TypeAdapter(PullStep)


class ChatToken(Answer):
    content: str


class ChatStart(Answer):
    session_id: str | None
    node_id: str
    inference_id: str
    model: str


class ChatToolCall(Answer):
    """A tool call the model made, about to run (`tool_call` in the chat stream)."""

    id: str = Field(description="Names the call; its `tool_result` carries the same id.")
    round: int = Field(description="1 for the calls of the first answer, and so on.")
    server: str | None = Field(description="Null when the model named no offered tool.")
    tool: str = Field(description="The tool's own name (or the unknown name the model gave).")
    arguments: dict[str, Any] = Field(
        description="As the model gave them; a large set is cut short, under the key "
        "`_truncated`, as the start of its JSON."
    )
    node_id: str | None = Field(description="The node hosting the tool's server.")


class ChatToolResult(Answer):
    """What a tool call answered (`tool_result` in the chat stream): the text the model reads."""

    id: str
    round: int
    server: str | None
    tool: str
    is_error: bool = Field(
        description="The call failed: unknown tool, invalid arguments, timeout, the tool's "
        "own error. The model reads the error as the result."
    )
    text: str
    duration_ms: float


class ChatDone(ChatStats):
    session_id: str | None
    content: str = Field(description="The whole answer.")
    sources: list[ChatSource] = Field(
        default=[], description="With use_brain: the passages the prompt carried"
    )
    facts: list[ChatFact] = Field(default=[], description=FACTS_HELP)
    tools: list[ChatToolUse] = Field(default=[], description=TOOLS_HELP)
