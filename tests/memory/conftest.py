"""The real embedding model (loaded once per test process) and in-process memory nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.brain.embedder import SentenceEmbedder
from tests.memory.kit import Node, memory_node


@pytest.fixture(scope="session")
def encoder() -> SentenceEmbedder:
    model = SentenceEmbedder("")
    problem = model.problem()
    if problem is not None:
        pytest.skip(problem)
    model.encode(["load the model once"])
    return model


@pytest.fixture
async def node(tmp_path: Path, encoder: SentenceEmbedder) -> AsyncIterator[Node]:
    async with memory_node(tmp_path, encoder) as found:
        yield found


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[Node]:
    """A node without an encoder: no brain, or the embedding stack is not installed."""
    async with memory_node(tmp_path, None) as found:
        yield found
