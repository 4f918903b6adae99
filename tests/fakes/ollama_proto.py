"""Small pieces of Ollama's wire format shared by the fake: timestamps, tokens, durations."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes.ollama_models import ModelSpec

NDJSON = "application/x-ndjson"
FOREVER_S = 100 * 365 * 86_400.0
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def rfc3339(at: float | None = None) -> str:
    """Go's time.Time JSON form in UTC, e.g. `2024-08-04T19:22:45.499127Z`."""
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.isoformat().replace("+00:00", "Z")


def split_tokens(text: str) -> list[str]:
    """Word-sized "tokens" that concatenate back to `text` (leading spaces, like BPE)."""
    return re.findall(r"\s*\S+|\s+$", text)


def count_tokens(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


def parse_keep_alive(value: Any, default_s: float) -> float:
    """Ollama's keep_alive: seconds as a number, or a Go duration string ("5m", "1h30m",
    "0"); negative means forever. Returns seconds (FOREVER_S for negative)."""
    if value is None or value == "":
        return default_s
    if isinstance(value, bool):
        raise ValueError(f"invalid keep_alive {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = re.findall(r"(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"time: invalid duration {text!r}") from None
            seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return FOREVER_S if seconds < 0 else seconds


def fake_embedding(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector)."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dims:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw.extend(v / 2**31 - 1.0 for v in struct.unpack(">8I", digest))
        counter += 1
    vec = raw[:dims]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def generation_stats(
    prompt_tokens: int, eval_count: int, *, cold: bool, ns_per_token: int
) -> dict[str, int]:
    """The timing fields of a final chat/generate object (nanoseconds, deterministic)."""
    load = 1_250_000_000 if cold else 12_000_000
    prompt_eval = prompt_tokens * 1_000_000
    eval_duration = eval_count * ns_per_token
    return {
        "total_duration": load + prompt_eval + eval_duration,
        "load_duration": load,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_eval,
        "eval_count": eval_count,
        "eval_duration": eval_duration,
    }


async def ndjson(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield json.dumps(event, separators=(",", ":")).encode() + b"\n"


@dataclass
class Failure:
    """A scripted failure: an HTTP error, or (mid_stream_after=n) an error line after n events."""

    status: int
    error: str
    endpoint: str | None = None
    mid_stream_after: int | None = None


@dataclass
class Loaded:
    """A model in memory, as `/api/ps` reports it."""

    spec: ModelSpec
    size_vram: int
    expires_at: float
    context_length: int


@dataclass
class Recorded:
    """One API call the fake received (control endpoints excluded)."""

    method: str
    path: str
    body: dict[str, Any]
