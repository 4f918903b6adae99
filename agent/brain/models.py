"""The brain's wire shapes: what its routes answer, what the OpenAPI document publishes and
what the SDK parses. Request bodies are `StrictModel`s; answers are `Answer`s."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agent.core.wire import Answer, StrictModel

SkipReason = Literal["binary", "too_large", "unsupported", "unreadable"]
SearchMode = Literal["hybrid", "vector", "lexical"]
MAX_K = 50
MAX_SOURCES = 64
MAX_PATH = 4096
MAX_QUERY = 2000

PathText = Annotated[str, Field(min_length=1, max_length=MAX_PATH)]


class BrainSource(Answer):
    path: str = Field(description="Absolute path of a folder (or file) this node indexes")
    exists: bool = Field(description="False while the path is missing: nothing under it is kept")
    files: int = Field(description="Files indexed under it")
    chunks: int = Field(description="Chunks indexed under it")


class SkippedFile(Answer):
    path: str
    reason: SkipReason
    detail: str = Field(description="Why, in words (size, decoding error...)")


class BrainStatus(Answer):
    node_id: str
    available: bool = Field(description="False when the embedding stack is not installed")
    unavailable_reason: str | None = Field(
        default=None, description="What to install when `available` is false"
    )
    sources: list[BrainSource]
    watching: bool = Field(description="Whether changes under the sources are followed live")
    files: int
    chunks: int
    skipped: dict[SkipReason, int] = Field(description="Files skipped, by reason")
    skipped_files: list[SkippedFile] = Field(description="Up to 50 of the skipped files")
    model: str = Field(description="The embedding model (name or local path)")
    model_loaded: bool = Field(description="The model is loaded lazily, when text needs encoding")
    dimensions: int | None = Field(description="Of the index's vectors; None before any")
    vectors: int = Field(description="Vectors in the index: equal to `chunks` once it settles")
    index_bytes: int = Field(description="Size of the vector index file on disk")
    deleted_slots: int = Field(description="Index slots freed by deletions, reused by adds")
    queue: int = Field(description="Files waiting to be (re)indexed")
    indexing: bool
    embedding_rate: float = Field(description="Chunks embedded per second, recently")
    last_change: float | None = Field(description="When the index last changed (epoch seconds)")


class ReindexBody(StrictModel):
    """`sources` replaces this node's source list (kept across restarts) and rescans it;
    `paths` rescans only those, which must lie within the sources; neither rescans all."""

    paths: Annotated[list[PathText], Field(max_length=MAX_SOURCES)] | None = None
    sources: Annotated[list[PathText], Field(max_length=MAX_SOURCES)] | None = None


class ReindexProgress(Answer):
    files_seen: int = Field(description="Files found by the scan so far")
    files_done: int = Field(description="Files of the scan indexed, unchanged or skipped")
    chunks_embedded: int = Field(description="Chunks encoded by the model")
    chunks_reused: int = Field(description="Chunks whose text was already embedded")
    skipped: int = Field(description="Files of the scan skipped")
    removed: int = Field(description="Files gone from the sources, removed from the index")
    rate: float = Field(description="Chunks embedded per second over the scan")
    elapsed_s: float
    done: bool


class BrainHit(Answer):
    node_id: str
    node_name: str
    path: str = Field(description="Absolute path of the file on that node")
    start_line: int = Field(description="1-based, inclusive")
    end_line: int
    heading: list[str] = Field(description="Markdown headings above the chunk, outermost first")
    content_hash: str = Field(description="SHA-256 of the file's bytes")
    score: float = Field(
        description="vector: cosine similarity; lexical: BM25 (higher is better); hybrid: "
        "reciprocal rank fusion"
    )
    similarity: float | None = Field(
        default=None, description="Cosine similarity to the query (vector and hybrid)"
    )
    bm25: float | None = Field(
        default=None, description="BM25 of the query's words (lexical and hybrid; None: no match)"
    )
    snippet: str = Field(description="A short excerpt, for display")
    text: str = Field(description="The whole chunk")


class NotSearched(Answer):
    node_id: str
    name: str
    reason: str = Field(description="offline, suspect, or why it did not answer")


class BrainSearchAnswer(Answer):
    query: str
    mode: SearchMode
    k: int
    hits: list[BrainHit]
    count: int
    searched: list[str] = Field(description="Node ids whose index was searched")
    not_searched: list[NotSearched]
    took_ms: float


class PeerSearchBody(StrictModel):
    q: Annotated[str, Field(min_length=1, max_length=MAX_QUERY)]
    k: Annotated[int, Field(ge=1, le=MAX_K)]
    mode: SearchMode
    path: Annotated[str, Field(max_length=MAX_PATH)] | None = None


class PeerSearchAnswer(Answer):
    hits: list[BrainHit]


class BrainForgotten(Answer):
    content_hash: str
    paths: list[str] = Field(description="Files whose chunks left the index")
    chunks: int
