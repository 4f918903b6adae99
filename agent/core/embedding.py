"""Turning text into vectors, shared by every subsystem that compares meaning.

The brain owns the embedding model (loaded lazily, unloaded when idle) and provides it as
`ctx.encoder`; memory (and later others) encode through this protocol, so no subsystem imports
the brain's internals and the model is loaded once per agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]


class EncoderUnavailable(Exception):
    """The embedding stack or its model is missing here; the message says what to install."""


class TextEncoder(Protocol):
    """`encode` answers one unit-length float32 row per text, in order. It blocks (it may
    load the model first): call it from a worker thread, never on the event loop. It raises
    `EncoderUnavailable` when the embedding stack is missing."""

    name: str

    def problem(self) -> str | None:
        """Why `encode` cannot work here (what to install), or None. Cheap: imports nothing."""
        ...

    def encode(self, texts: list[str]) -> Vectors: ...
