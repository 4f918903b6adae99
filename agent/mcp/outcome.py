"""What a tool call came to, and the reason a server cannot serve one: shared by the
supervisor and the callers, free of the SDK (which is imported only once a server starts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["ok", "error", "unknown_tool", "invalid_arguments", "timeout", "unavailable"]


@dataclass(frozen=True, slots=True)
class CallOutcome:
    kind: Kind
    text: str
    structured: dict[str, Any] | None = None
    content: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_error(self) -> bool:
        return self.kind != "ok"


class ServerUnavailable(Exception):
    """The server is not ready and could not be made so; the message is the reason."""
