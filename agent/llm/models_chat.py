"""Chat answers, stored chat sessions, and the inference sessions (generations) they ran."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.core.wire import Answer

Role = Literal["system", "user", "assistant", "tool"]
InferenceState = Literal["running", "done", "failed", "cancelled"]


class ChatMessage(Answer):
    role: Role
    content: str


class ChatStats(Answer):
    """How a generation went: where it ran, its tokens and its speed."""

    node_id: str = Field(description="The node whose Ollama generated the answer.")
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    time_to_first_token_ms: float | None
    tokens_per_s: float | None
    done_reason: str | None = Field(description='Ollama\'s, e.g. "stop" or "length".')


class ChatSource(Answer):
    """A passage of the cluster's documents given to the model, cited as [n] in the answer."""

    n: int = Field(description="Its number in the prompt: the answer cites it as [n]")
    node_id: str
    node_name: str
    path: str
    start_line: int
    end_line: int
    heading: list[str]
    score: float


class ChatFact(Answer):
    """A remembered fact given to the model (`use_memory`)."""

    id: str
    text: str
    key: str | None
    score: float = Field(description="Cosine similarity to the user's last message")


FACTS_HELP = "With use_memory: the remembered facts the prompt carried"
TOOLS_HELP = "With mcp_servers: the tool calls the model made, in order"


class ChatToolUse(Answer):
    """One tool call a chat with `mcp_servers` ran (never its arguments or result)."""

    server: str | None = Field(description="Null when the model named no offered tool.")
    tool: str
    is_error: bool
    duration_ms: float


class ChatAnswer(ChatStats):
    """The answer of `POST /api/llm/chat` with `stream: false`."""

    session_id: str | None
    message: ChatMessage
    sources: list[ChatSource] = Field(
        default=[], description="With use_brain: the passages the prompt carried"
    )
    facts: list[ChatFact] = Field(default=[], description=FACTS_HELP)
    tools: list[ChatToolUse] = Field(default=[], description=TOOLS_HELP)


class MessageStats(ChatStats):
    partial: bool = Field(description="Whether the answer was cut short (client gone, error).")
    sources: list[ChatSource] = Field(
        default=[], description="With use_brain: the passages the prompt carried"
    )
    facts: list[ChatFact] = Field(default=[], description=FACTS_HELP)
    tools: list[ChatToolUse] = Field(default=[], description=TOOLS_HELP)


class ChatSessionMessage(Answer):
    seq: int
    role: Role
    content: str
    created_at: float
    stats: MessageStats | None = Field(description="An assistant message's generation stats.")


class ChatSession(Answer):
    session_id: str
    title: str
    model: str | None = Field(description="The model last chatted with in this session.")
    created_at: float
    updated_at: float
    message_count: int


class ChatSessionDetail(ChatSession):
    messages: list[ChatSessionMessage]


class ChatSessionList(Answer):
    sessions: list[ChatSession] = Field(description="Most recently updated first.")
    count: int


class ChatSessionDeleted(Answer):
    session_id: str
    deleted: bool


class InferenceSession(Answer):
    """One generation, running or among the last ones finished."""

    inference_id: str
    model: str
    node_id: str
    plan: Literal["single_node"] = Field(description="How the model was placed.")
    started_at: float
    state: InferenceState
    prompt_tokens: int | None
    generated_tokens: int
    time_to_first_token_ms: float | None
    tokens_per_s: float | None
    ended_at: float | None
    error: str | None


class InferenceSessionList(Answer):
    sessions: list[InferenceSession] = Field(description="Most recent first.")
    count: int
