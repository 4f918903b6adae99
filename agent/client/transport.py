"""The one path every SDK call takes: send a request, map its failures, stream its events."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from agent.client.discovery import DEFAULT_URL
from agent.client.errors import AgentUnavailable, ApiError, ClientError, StreamEndedEarly
from agent.client.events import StreamEvent
from agent.client.sse import SSEParser

M = TypeVar("M", bound=BaseModel)
DEFAULT_TIMEOUT = 10.0
# For calls that may first load the embedding model on the agent (seconds, more on a busy
# machine): the model's first use must not read as an agent that does not answer.
ENCODING_TIMEOUT = 120.0
EVENT_STREAM = "text/event-stream"


class Transport:
    """One agent's HTTP connection, and the mapping of every failure to a `ClientError`.

    Nothing answering raises `AgentUnavailable`; an answer of 400 or above raises `ApiError`
    (its standard error body's code, else `HTTP_<status>`); a success that is not JSON where
    JSON is expected, or not an event stream where one is, raises `ApiError` INVALID_RESPONSE.
    `transport` is for tests.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            # trust_env=False: a proxy from HTTP_PROXY must never sit between the CLI and a
            # loopback agent (the agent rejects foreign Host headers anyway).
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=timeout,
                transport=transport,
                trust_env=False,
            )
        except httpx.InvalidURL as exc:
            raise ClientError(f"invalid agent URL {base_url!r}: {exc}") from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(
        self, request: httpx.Request, *, stream: bool = False, ok: int = 0, what: str = ""
    ) -> httpx.Response:
        """The agent's answer to `request`, unless it is an error (400 or above, but `ok`).

        A refused `stream` request is read whole and closed before `ApiError` is raised.
        """
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.LocalProtocolError as exc:
            # The request broke its own framing (a body of another length than announced):
            # the agent is fine, the request is not.
            what = what or f"request {request.method} {request.url.path}"
            raise ClientError(f"the {what} failed: {exc}") from None
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from None
        if response.status_code < 400 or response.status_code == ok:
            return response
        try:
            await response.aread()
        except httpx.TransportError as exc:
            raise self._unavailable(exc) from None
        finally:
            await response.aclose()
        raise ApiError.from_response(response)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        ok: int = 0,
        timeout: float | None = None,
    ) -> httpx.Response:
        """`timeout`: seconds for this call instead of the client's."""
        request = self._http.build_request(
            method,
            path,
            params=params,
            json=json_body,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )
        return await self._send(request, ok=ok)

    async def _get_json(self, path: str) -> Any:
        return self._json(await self._request("GET", path))

    async def _get_model(self, path: str, model: type[M]) -> M:
        return self._model(await self._request("GET", path), model)

    def _model(self, response: httpx.Response, model: type[M]) -> M:
        """The JSON body as `model`; a body of another shape raises `ApiError`
        INVALID_RESPONSE (unknown fields are not: a newer agent may add some)."""
        try:
            return model.model_validate(self._json(response))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(body)'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:3]
            )
            raise ApiError(
                response.status_code,
                "INVALID_RESPONSE",
                f"the agent at {self.base_url} answered {response.request.url.path} with a "
                f"body that is not a {model.__name__} ({problems})",
            ) from None

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code,
                "INVALID_RESPONSE",
                f"the agent at {self.base_url} answered {response.request.url.path} "
                "with a body that is not JSON",
            ) from None

    async def _stream(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        last_event_id: int | None = None,
        until: str | None = None,
        unfinished: str = "it was done",
    ) -> AsyncGenerator[StreamEvent, None]:
        """The Server-Sent Events the agent answers with, as they arrive.

        `last_event_id` is sent as `Last-Event-ID`, so the agent replays what followed it. An
        `error` event raises `ApiError` with its code. With `until`, the stream stops after
        that event, and one that ends before it raises `StreamEndedEarly` ("the agent ended
        the <what> before <unfinished>"); without, it runs until the agent ends it. A caller
        that stops early should close the iterator (`contextlib.aclosing`) so the connection
        is released at once.
        """
        headers = {"Accept": EVENT_STREAM}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        # No read timeout: a quiet stream is normal between keep-alives, and a model may take
        # long to load or a pull to fetch a layer.
        timeout = httpx.Timeout(self.timeout, read=None)
        request = self._http.build_request(
            method, path, params=params, json=json_body, headers=headers, timeout=timeout
        )
        response = await self._send(request, stream=True)
        try:
            if not response.headers.get("content-type", "").startswith(EVENT_STREAM):
                raise ApiError(
                    response.status_code,
                    "INVALID_RESPONSE",
                    f"the agent at {self.base_url} answered {path} without an event stream",
                )
            parser = SSEParser()
            try:
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is None:
                        continue
                    if event.topic == "error":
                        raise ApiError.from_event(event.data, response.status_code, what)
                    yield event
                    if event.topic == until:
                        return
            except httpx.TransportError as exc:
                reason = f"lost the {what} from {self.base_url}: {exc}"
                raise AgentUnavailable(self.base_url, reason) from None
        finally:
            await response.aclose()
        if until is not None:
            raise StreamEndedEarly(f"the agent ended the {what} before {unfinished}")

    def _unavailable(self, exc: httpx.TransportError) -> AgentUnavailable:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return AgentUnavailable(self.base_url)
        if isinstance(exc, httpx.TimeoutException):
            reason = f"did not answer within {self.timeout:g}s"
        else:
            reason = f"cannot be reached: {exc or type(exc).__name__}"
        return AgentUnavailable(self.base_url, f"the agent at {self.base_url} {reason}")
