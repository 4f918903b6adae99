"""The OpenAI-compatible answers, in OpenAI's own shapes (the `openai` package parses them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.core.wire import Answer
from agent.llm.models_chat import ChatSource


class OpenAiModel(Answer):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default=0, description="Unknown: always 0.")
    owned_by: str = "openfabric"


class OpenAiModelList(Answer):
    object: Literal["list"] = "list"
    data: list[OpenAiModel]


class OpenAiMessage(Answer):
    role: Literal["assistant"] = "assistant"
    content: str


class OpenAiChoice(Answer):
    index: int
    message: OpenAiMessage
    finish_reason: Literal["stop", "length"]


class OpenAiUsage(Answer):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OpenAiChatCompletion(Answer):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[OpenAiChoice]
    usage: OpenAiUsage
    sources: list[ChatSource] | None = Field(
        default=None, description="OpenFabric's: with use_brain, the passages the prompt carried"
    )
