"""The LLM subsystem's wire shapes: what its routes answer, and what the SDK returns.

The pool (status, capabilities, the model catalog) is here; the planner's verdict is in
`models_plan`, chat and sessions in `models_chat`, the OpenAI-compatible answers in
`models_openai`, and the peer streams in `models_streams`. Everything is re-exported here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.core.capabilities import LlmCapability, LoadedModel, ModelFacts
from agent.core.wire import Answer
from agent.llm.models_chat import (
    ChatAnswer,
    ChatFact,
    ChatMessage,
    ChatSession,
    ChatSessionDeleted,
    ChatSessionDetail,
    ChatSessionList,
    ChatSessionMessage,
    ChatSource,
    ChatStats,
    ChatToolUse,
    InferenceSession,
    InferenceSessionList,
    InferenceState,
    MessageStats,
    Role,
)
from agent.llm.models_openai import (
    OpenAiChatCompletion,
    OpenAiChoice,
    OpenAiMessage,
    OpenAiModel,
    OpenAiModelList,
    OpenAiUsage,
)
from agent.llm.models_plan import (
    ModelEstimates,
    ModelFit,
    ModelPlacement,
    ModelPlan,
    ModelPlanUnknown,
    ModelShard,
)

NodeState = Literal["online", "suspect", "offline"]


class LlmStatus(Answer):
    """This node's Ollama as it was last asked (at most a second ago)."""

    node_id: str
    ollama_url: str
    up: bool
    reason: str | None = Field(description="Why Ollama is down; null while it is up.")
    version: str | None
    models: list[ModelFacts]
    loaded: list[LoadedModel] = Field(description="The models Ollama holds in memory now.")
    checked_at: float | None = Field(description="When Ollama was last asked (unix time).")


class InferenceNode(Answer):
    """A member's Ollama and free memory, as its last heartbeat said."""

    node_id: str
    name: str
    state: NodeState
    llm: LlmCapability | None = Field(
        description="Null when the member has not described its Ollama (yet)."
    )
    free_ram: int
    free_vram: int


class InferenceCapabilities(Answer):
    nodes: list[InferenceNode]
    count: int


class ModelHolder(Answer):
    node_id: str
    name: str
    state: NodeState


class ClusterModel(Answer):
    """A model somewhere in the cluster: its facts (from the first node that has it), the
    nodes that have it, and where the planner would run it on the online nodes."""

    name: str
    size: int = Field(description="Bytes on disk.")
    family: str | None
    parameter_size: str | None = Field(description='e.g. "8.0B".')
    quantization: str | None = Field(description='e.g. "Q4_K_M".')
    context_length: int | None
    details: dict[str, str | None] = Field(
        description="Ollama's family, parameter_size and quantization_level."
    )
    nodes: list[ModelHolder]
    plan: ModelPlan


class ModelCatalog(Answer):
    models: list[ClusterModel]
    count: int


class ModelDeleted(Answer):
    model: str
    deleted: bool


__all__ = [
    "ChatAnswer",
    "ChatFact",
    "ChatMessage",
    "ChatSession",
    "ChatSessionDeleted",
    "ChatSessionDetail",
    "ChatSessionList",
    "ChatSessionMessage",
    "ChatSource",
    "ChatStats",
    "ChatToolUse",
    "ClusterModel",
    "InferenceCapabilities",
    "InferenceNode",
    "InferenceSession",
    "InferenceSessionList",
    "InferenceState",
    "LlmCapability",
    "LlmStatus",
    "LoadedModel",
    "MessageStats",
    "ModelCatalog",
    "ModelDeleted",
    "ModelEstimates",
    "ModelFacts",
    "ModelFit",
    "ModelHolder",
    "ModelPlacement",
    "ModelPlan",
    "ModelPlanUnknown",
    "ModelShard",
    "NodeState",
    "OpenAiChatCompletion",
    "OpenAiChoice",
    "OpenAiMessage",
    "OpenAiModel",
    "OpenAiModelList",
    "OpenAiUsage",
    "Role",
]
