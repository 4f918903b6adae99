"""What the fabric's tools answer where no SDK method has an answer of that shape (reading a
stored file as text, a task's output gathered as it is written)."""

from __future__ import annotations

from pydantic import Field

from agent.client.types import TaskView
from agent.core.wire import Answer

# Stored files are handed to a model as text up to this size; larger ones only described.
MAX_TEXT_BYTES = 256 * 1024
# Of a task's output followed live, the tail of each stream kept for the answer.
MAX_LOG_CHARS = 64 * 1024


class StoredText(Answer):
    path: str
    size: int | None = Field(description="Bytes, when the agent said")
    sha256: str | None = Field(description="The file's SHA-256 (hex), when the agent said")
    text: str | None = Field(
        description="The whole content, when it is UTF-8 text of at most 256 KiB; else null"
    )
    note: str | None = Field(description="Why `text` is null (too large, not UTF-8 text)")


class TaskOutput(Answer):
    task_id: str
    ended: bool = Field(description="Whether the task ended within the wait")
    stdout: str = Field(description="What it wrote to stdout (the last 64 KiB)")
    stderr: str = Field(description="What it wrote to stderr (the last 64 KiB)")
    last_chunk: int | None = Field(
        description="The last output chunk received: pass it as `after` to read on from there"
    )
    task: TaskView | None = Field(
        description="The task as it ended (state, exit_code, error...); null while it runs"
    )
