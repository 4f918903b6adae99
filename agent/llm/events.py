"""Topics the LLM subsystem publishes, and their payloads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agent.core.events import Topic
from agent.core.wire import Answer


class BackendChanged(Answer):
    up: bool = Field(description="Whether this node's Ollama answers now.")
    reason: str | None = Field(description="Why it is down; null while up.")
    url: str = Field(description="The Ollama URL this node uses.")


class ModelRemoved(Answer):
    model: str


class ModelPulled(Answer):
    model: str
    node_id: str = Field(description="The node whose Ollama now has the model.")


class SessionChanged(Answer):
    session_id: str
    change: Literal["created", "renamed", "deleted", "message"] = Field(
        description="What happened: `message` when a chat stored an exchange in it."
    )


class Generated(Answer):
    model: str
    node_id: str = Field(description="The node whose Ollama generated it.")
    prompt_tokens: int | None
    completion_tokens: int = Field(description="Tokens generated.")
    purpose: Literal["chat", "openai", "memory"] = Field(
        description="What asked for it: a chat, an OpenAI-compatible client, or memory "
        "extraction after a chat."
    )


LLM_BACKEND = Topic(
    "llm.backend",
    BackendChanged,
    "This node's Ollama went up or down (also published on the first check after start).",
)
MODEL_DELETED = Topic(
    "llm.model.deleted", ModelRemoved, "A model was removed from this node's Ollama."
)
MODEL_PULLED = Topic(
    "llm.model.pulled",
    ModelPulled,
    "A pull started on this node finished: the model is on the named node.",
)

SESSION_CHANGED = Topic(
    "llm.session.changed",
    SessionChanged,
    "A chat session stored on this node was created, renamed, deleted or given new messages.",
)

LLM_GENERATED = Topic(
    "llm.generated",
    Generated,
    "A generation asked for through this node finished (wherever it ran): its model, node "
    "and tokens. Each generation is published once, on the node that was asked.",
)

TOPICS: tuple[Topic[Any], ...] = (
    LLM_BACKEND,
    LLM_GENERATED,
    MODEL_DELETED,
    MODEL_PULLED,
    SESSION_CHANGED,
)
