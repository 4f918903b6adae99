"""Shapes of the agent's LLM answers (see `agent.client_llm`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

# --- LLM pool ------------------------------------------------------------------------------


class LlmModel(TypedDict, total=False):
    """A model in an Ollama, with the facts the sharding planner needs."""

    name: str
    size: int  # bytes on disk
    family: str | None
    parameter_size: str | None  # e.g. "8.0B"
    quantization: str | None  # e.g. "Q4_K_M"
    context_length: int | None
    details: dict[str, Any]


class LoadedModel(TypedDict):
    name: str
    size: int
    size_vram: int
    expires_at: str | None


class LlmStatus(TypedDict):
    """This node's Ollama: `reason` says why it is down (None while up)."""

    node_id: str
    ollama_url: str
    up: bool
    reason: str | None
    version: str | None
    models: list[LlmModel]
    loaded: list[LoadedModel]
    checked_at: float | None


class ModelHolder(TypedDict):
    node_id: str
    name: str
    state: str


class ModelPlan(TypedDict, total=False):
    """The planner's verdict for a model against the online nodes' free memory."""

    verdict: Literal["single_node", "split", "infeasible", "unknown"]
    fits_on: list[dict[str, Any]]  # {node_id, name, usable_bytes, headroom_bytes, vram_only}
    shards: list[dict[str, Any]]  # {node_id, name, start, end, layers, bytes, ...}
    shortfall_bytes: int
    estimates: dict[str, Any]
    reason: str  # only with "unknown"


class ClusterModel(LlmModel, total=False):
    nodes: list[ModelHolder]
    plan: ModelPlan


class ModelCatalog(TypedDict):
    models: list[ClusterModel]
    count: int


class ModelDeleted(TypedDict):
    model: str
    deleted: bool


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class ChatStats(TypedDict, total=False):
    node_id: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    time_to_first_token_ms: float | None
    tokens_per_s: float | None
    done_reason: str | None
    session_id: str | None


class ChatAnswer(ChatStats, total=False):
    """`chat_once`'s answer: the assistant's message and the generation's stats."""

    message: ChatMessage


class ChatSession(TypedDict):
    session_id: str
    title: str
    model: str | None
    created_at: float
    updated_at: float
    message_count: int


class SessionMessage(TypedDict):
    seq: int
    role: str
    content: str
    created_at: float
    stats: dict[str, Any] | None  # an assistant message's ChatStats (+ "partial")


class ChatSessionDetail(ChatSession):
    messages: list[SessionMessage]


class SessionList(TypedDict):
    sessions: list[ChatSession]  # most recently updated first
    count: int


class SessionDeleted(TypedDict):
    session_id: str
    deleted: bool


@dataclass(frozen=True)
class PullEvent:
    """One event of `llm_pull`: `progress` (Ollama's status line, and for a layer its
    `digest` with `completed`/`total` bytes), then one `done` (`data` holds model, node_id)."""

    kind: Literal["progress", "done"]
    status: str = ""
    digest: str | None = None
    completed: int | None = None
    total: int | None = None
    percent: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatEvent:
    """One event of `chat`: `start` (session_id, node_id, inference_id, model), a `token` per
    piece of the answer (`content`), then one `done` whose `content` is the whole answer and
    whose `data` holds the stats (ChatStats)."""

    kind: Literal["start", "token", "done"]
    content: str = ""
    data: dict[str, Any] = field(default_factory=dict)
