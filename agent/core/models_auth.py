"""Wire shapes of the dashboard sign-in routes (`core.auth`)."""

from __future__ import annotations

from pydantic import Field

from agent.core.wire import Answer


class LoginCode(Answer):
    """A single-use dashboard login code; opening `login_path` signs a browser in."""

    code: str
    login_path: str = Field(description="The path (with the code) that redeems it")
    expires_in: float = Field(description="Seconds it stays valid")


class LoggedOut(Answer):
    logged_out: bool = Field(description="False when the caller had no live session")
