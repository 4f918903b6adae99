"""A deterministic stand-in for the embedding model, for unit tests of the index and the
indexer's bookkeeping only (never for search quality): each word adds a fixed random
direction, so texts sharing words are near. It counts what it encodes."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from agent.brain.vectors import Vectors

DIMENSIONS = 32


class StandInEmbedder:
    name = "stand-in"

    def __init__(self) -> None:
        self.encoded: list[str] = []
        self.loaded = True
        self.last_used = 0.0

    def dimensions(self) -> int:
        return DIMENSIONS

    def encode(self, texts: list[str]) -> Vectors:
        self.encoded.extend(texts)
        return np.stack([vector(t) for t in texts]).astype(np.float32)

    def unload(self) -> None:
        return None


def vector(text: str) -> Vectors:
    total = np.zeros(DIMENSIONS, dtype=np.float32)
    for word in re.findall(r"\w+", text.lower()) or [""]:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        total += np.random.default_rng(seed).standard_normal(DIMENSIONS).astype(np.float32)
    return total / max(float(np.linalg.norm(total)), 1e-9)
