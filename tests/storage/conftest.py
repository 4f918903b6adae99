"""A chunk store of its own for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.storage.chunks import ChunkStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "storage" / "chunks"


@pytest.fixture
def store(root: Path) -> ChunkStore:
    s = ChunkStore(root)
    s.open()
    return s
