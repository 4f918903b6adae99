"""Memory's wire shapes: what its routes answer, what the OpenAPI document publishes and what
the SDK parses. Request bodies are `StrictModel`s; answers are `Answer`s."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agent.core.wire import Answer, StrictModel

MAX_TEXT = 2000
MAX_TAGS = 16
MAX_TAG = 64
MAX_KEY = 128
MAX_K = 50
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"

FactSource = Literal["manual", "chat", "agent"]
Outcome = Literal["created", "existing", "superseded"]
FactText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
FactKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY, pattern=KEY_PATTERN)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG)]


class Fact(Answer):
    id: str
    text: str
    key: str | None = Field(
        description="A stable name such as `user.editor`; a new fact with "
        "the same key supersedes the active one"
    )
    tags: list[str]
    source: FactSource = Field(
        description="Who stated it: added by hand, learnt in a chat, or by an autonomous agent"
    )
    session_id: str | None = Field(description="The chat (or agent run) it came from")
    node_id: str = Field(description="The node it was added on")
    created_at: float = Field(description="When it was added (epoch seconds)")
    superseded_by: str | None = Field(description="The fact that replaced it; null while active")
    superseded_at: float | None


class FactList(Answer):
    facts: list[Fact] = Field(description="Newest first")
    count: int


class AddFactBody(StrictModel):
    text: FactText
    key: FactKey | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS)] = Field(default_factory=list)


class AddFactAnswer(Answer):
    """`created` (201): a new active fact. `existing` (200): the same fact was already
    active, nothing changed. `superseded` (201): a new active fact replaced those listed."""

    fact: Fact
    outcome: Outcome
    superseded: list[str] = Field(description="Ids of the facts it replaced")


class FactHit(Answer):
    fact: Fact
    score: float = Field(description="Cosine similarity to the query, -1 to 1")


class FactSearchAnswer(Answer):
    query: str
    hits: list[FactHit] = Field(description="Best first")
    count: int


class FactRemoved(Answer):
    id: str
    removed: bool


class FactsCleared(Answer):
    removed: int = Field(description="Facts removed, superseded history included")


# Facts kept in all (history included); a full memory refuses new facts with 409 MEMORY_FULL.
MAX_FACTS = 100_000
MAX_QUERY = MAX_TEXT
MAX_SESSION_ID = 128
FACT_ID_PATTERN = r"^[0-9a-f]{32}$"
