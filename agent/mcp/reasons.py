"""One clear sentence from whatever the SDK raised: its errors come wrapped in nested
exception groups (one per task group they crossed), and "unhandled errors in a TaskGroup"
tells a user nothing."""

from __future__ import annotations

import errno

import anyio
import httpx2
from mcp import MCPError

MAX_REASON = 500


def leaves(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        item = pending.pop(0)
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        else:
            found.append(item)
    return found


def root_cause(exc: BaseException) -> BaseException:
    """The first leaf that is not a cancellation (the others are its consequences)."""
    cancelled = anyio.get_cancelled_exc_class()
    found = leaves(exc)
    for leaf in found:
        if not isinstance(leaf, cancelled | GeneratorExit):
            return leaf
    return found[0] if found else exc


def describe(exc: BaseException, *, command: str | None = None, url: str | None = None) -> str:
    cause = root_cause(exc)
    if isinstance(cause, FileNotFoundError) and command is not None:
        text = f"command not found: {command}"
    elif isinstance(cause, PermissionError) and command is not None:
        text = f"permission denied running {command}"
    elif isinstance(cause, NotADirectoryError | FileNotFoundError):
        text = f"no such file or directory: {cause.filename}"
    elif isinstance(cause, httpx2.ConnectError) or (
        isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
    ):
        text = f"connection refused by {url}" if url else "connection refused"
    elif isinstance(cause, httpx2.TimeoutException):
        text = f"no answer from {url}" if url else "the server did not answer in time"
    elif isinstance(cause, httpx2.HTTPStatusError):
        text = f"{url} answered HTTP {cause.response.status_code}"
    elif isinstance(cause, MCPError):
        text = f"the server answered an error: {cause.message}"
    else:
        detail = str(cause).strip()
        text = f"{type(cause).__name__}: {detail}" if detail else type(cause).__name__
    return text[:MAX_REASON]
