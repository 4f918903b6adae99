"""What `AgentClient` supplies to its mixins (`client_storage`, `client_llm`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from agent.client_models import AgentUnavailable


class ClientCore:
    base_url: str
    timeout: float
    _http: httpx.AsyncClient

    if TYPE_CHECKING:

        async def _request(
            self,
            method: str,
            path: str,
            *,
            params: Mapping[str, str] | None = None,
            json_body: Any = None,
            ok: int = 0,
        ) -> httpx.Response: ...

        async def _get_json(self, path: str) -> Any: ...

        def _json(self, response: httpx.Response) -> Any: ...

        def _unavailable(self, exc: httpx.TransportError) -> AgentUnavailable: ...
