"""http.request: one HTTP request (redirects followed by hand, each checked), its answer
bounded as it streams in.

Each call uses a client of its own, closed with the call: nothing to close when the agent
stops, and no connection of one flow reused by another. Proxies from the environment are not
used (they would see every flow's requests).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx

from agent.core.subsystem import Context
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.actions.bounds import (
    OUTPUT_BUDGET,
    encoded_size,
    head_fitting,
    params_of,
    time_left,
)
from agent.flows.actions.http_guard import CheckedTransport, Guard, checked_url, redirect_allowed
from agent.flows.actions.params import HttpRequestParams
from agent.flows.clock import Clock

MAX_REDIRECTS = 5
MAX_HEADERS = 64
MAX_HEADER_VALUE = 1024
BODY_BUDGET = OUTPUT_BUDGET - 24 * 1024


class HttpRequest:
    name = "http.request"

    def __init__(self, ctx: Context, clock: Clock, guard: Guard | None = None) -> None:
        self.ctx, self.clock, self.guard = ctx, clock, guard or Guard()

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, HttpRequestParams)
        url = checked_url(params.url)
        left = time_left(call, self.clock)
        limit = self.ctx.settings.flows_http_timeout
        timeout = limit if left is None else min(left, limit)
        try:
            with anyio.fail_after(timeout):
                return await self._exchange(call, params, url, timeout)
        except TimeoutError:
            raise StepFailed(f"{url.host} did not answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise StepFailed(
                f"the request to {url.host} failed: {exc or type(exc).__name__}"
            ) from None

    async def _exchange(
        self, call: StepCall, params: HttpRequestParams, url: httpx.URL, timeout: float
    ) -> dict[str, Any]:
        body = params.body
        # A foreign flow's connections go only where the guard resolved and checked.
        transport = CheckedTransport(self.guard) if call.foreign else None
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
        ) as client:
            request = client.build_request(
                params.method,
                url,
                headers=params.headers,
                content=body.encode() if isinstance(body, str) else None,
                json=body if isinstance(body, dict | list) else None,
            )
            for _ in range(MAX_REDIRECTS + 1):
                response = await client.send(request, stream=True)
                try:
                    following = response.next_request
                    if following is None:
                        raw, cut = await _read(response, params.max_bytes)
                        return _answer(response, raw, cut, params.fail_on_status)
                finally:
                    await response.aclose()
                redirect_allowed(request.url, following.url)
                call.log(f"{response.status_code} redirect to {following.url.host}")
                request = following
        raise StepFailed(f"{url.host} redirected more than {MAX_REDIRECTS} times")


async def _read(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    raw = bytearray()
    async for block in response.aiter_bytes():
        raw += block
        if len(raw) > limit:
            return bytes(raw[:limit]), True
    return bytes(raw), False


def _answer(response: httpx.Response, raw: bytes, cut: bool, fail: bool) -> dict[str, Any]:
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    parsed: Any = None
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not cut and (kind == "application/json" or kind.endswith("+json")):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if parsed is not None and encoded_size(parsed) > BODY_BUDGET // 2:
        parsed = None  # too large to carry twice: the body alone is kept
    body = head_fitting(text, BODY_BUDGET - (0 if parsed is None else encoded_size(parsed)))
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items()[:MAX_HEADERS]:
        key = name.lower()[:128]
        headers[key] = (f"{headers[key]}, {value}" if key in headers else value)[:MAX_HEADER_VALUE]
    outputs = {
        "status": response.status_code,
        "headers": headers,
        "body": body,
        "json": parsed,
        "truncated": cut or len(body) < len(text),
    }
    if fail and response.status_code >= 400:
        raise StepFailed(f"the answer was HTTP {response.status_code}", outputs)
    return outputs
