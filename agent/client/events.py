"""The events the SDK's streaming calls yield: raw Server-Sent Events, and those made from them
for task output (`task_logs`), model pulls (`llm_pull`) and chat (`chat`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agent.client.types import LogStream, Task


@dataclass(frozen=True)
class StreamEvent:
    """One Server-Sent Event: `topic` is its `event:` field, `id` its sequence number."""

    id: int | None
    topic: str
    data: Any


@dataclass(frozen=True)
class LogEvent:
    """One event of a task's output stream.

    `stdout`/`stderr`: `text` written by the command, `seq` its chunk sequence number (resume
    after it with `task_logs(after=seq)`). `end`: the last event, `task` the final task.
    """

    stream: LogStream
    seq: int | None
    text: str = ""
    task: Task | None = None


@dataclass(frozen=True)
class PullEvent:
    """One event of `llm_pull`: `progress` (Ollama's status line, and for a layer its
    `digest` with `completed`/`total` bytes), then one `done` (`data` holds model, node_id)."""

    kind: Literal["progress", "done"]
    status: str = ""
    digest: str | None = None
    completed: int | None = None
    total: int | None = None
    percent: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatEvent:
    """One event of `chat`: `start` (session_id, node_id, inference_id, model), with
    `mcp_servers` a `tool_call` (id, round, server, tool, arguments, node_id) and a
    `tool_result` (id, round, server, tool, is_error, text, duration_ms) for each call the model
    made, a `token` per piece of the answer (`content`), then one `done` whose `content` is the
    whole answer and whose `data` holds the stats (ChatStats, and the calls in `tools`)."""

    kind: Literal["start", "tool_call", "tool_result", "token", "done"]
    content: str = ""
    data: dict[str, Any] = field(default_factory=dict)
