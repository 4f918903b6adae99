"""What the LLM streams carry: the generation events a node relays (also from a member over
`POST /peer/llm/chat`, as NDJSON), the steps of a pull (also over `POST /peer/llm/pull`), and
the payloads of the `POST /api/llm/chat` stream's `start` and `done` events.

A member's lines are parsed with these models, so a line of another shape is an error of that
stream, never a crash of the relay.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from agent.core.wire import Answer
from agent.llm.models_chat import FACTS_HELP, ChatFact, ChatSource, ChatStats


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


GenerationEvent = Annotated[TokenEvent | DoneEvent | ErrorEvent, Field(discriminator="type")]
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


class ChatDone(ChatStats):
    session_id: str | None
    content: str = Field(description="The whole answer.")
    sources: list[ChatSource] = Field(
        default=[], description="With use_brain: the passages the prompt carried"
    )
    facts: list[ChatFact] = Field(default=[], description=FACTS_HELP)
