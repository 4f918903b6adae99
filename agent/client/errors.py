"""The errors the SDK raises; every one is a `ClientError`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx


class ClientError(Exception):
    """Base of every error the SDK raises."""


class AgentUnavailable(ClientError):
    """No agent answered at the URL (connection refused, timed out, or dropped)."""

    def __init__(self, url: str, reason: str | None = None) -> None:
        self.url = url
        self.reason = reason
        hint = "start one with 'openfabric serve'"
        super().__init__(reason or f"no agent is answering at {url} ({hint})")


class StreamEndedEarly(ClientError):
    """The agent ended an event stream before the event that finishes it."""


class ApiError(ClientError):
    """The agent refused a request; carries its `error_code` and `details`.

    Built from the agent's error body `{"success": false, "error", "error_code", "details"}`;
    a body of any other shape gives the code `HTTP_<status>` and a message naming the status.
    """

    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        status, body, reason = response.status_code, response.content, response.reason_phrase
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            code = str(data.get("error_code") or f"HTTP_{status}")
            details = data.get("details")
            return cls(status, code, data["error"], details if isinstance(details, dict) else {})
        text = body.decode("utf-8", "replace").strip()
        message = f"the agent answered HTTP {status}{f' {reason}' if reason else ''}"
        if text:
            message += f": {text[:200]}"
        return cls(status, f"HTTP_{status}", message)

    @classmethod
    def from_event(cls, data: Any, status: int, what: str) -> ApiError:
        """From the `error` event of a stream, whose data carries the error body's fields
        (`STREAM_ERROR` when it names no code)."""
        fields = data if isinstance(data, dict) else {"error": str(data)}
        message = str(fields.get("error") or f"the {what} failed")
        details = fields.get("details")
        code = str(fields.get("error_code") or "STREAM_ERROR")
        return cls(status, code, message, details if isinstance(details, dict) else {})
