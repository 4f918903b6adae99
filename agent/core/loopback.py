"""The agent's own local API, as a part of the agent reaches it over loopback (the fabric's MCP
server and flows' actions drive the cluster through the SDK, as any client would)."""

from __future__ import annotations

from agent.core.security import load_or_create_token
from agent.settings import Settings


def local_url(settings: Settings) -> str:
    """The agent's own API as a loopback client reaches it (as `agent.json` names it)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    if host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.port}"


def local_token(settings: Settings) -> str | None:
    """The bearer token the local API asks for (None when `auth` is none)."""
    return load_or_create_token(settings.home) if settings.auth == "token" else None
