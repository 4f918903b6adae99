"""Generating a chat answer somewhere in the cluster.

A generation is a stream of events, the same whether it runs here or on another member:
`{"type": "token", "content"}` for each piece, then `{"type": "done", ...stats}`. A remote
generation is one streamed peer request (`POST /peer/llm/chat`, NDJSON of those events).
Errors before the first token are raised as `ApiError`s so callers can answer them properly;
routing prefers this node, then the least loaded online member that has the model.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio
import httpx
import ollama

from agent.cluster.membership import ONLINE, Membership
from agent.core.errors import ApiError, NotFound, ServiceUnavailable
from agent.core.subsystem import Context
from agent.llm.backend import OllamaBackend
from agent.llm.service import LlmService
from agent.peer.client import PeerClient, PeerUnreachable

RECENT_KEPT = 100
Event = dict[str, Any]


@dataclass
class Inference:
    inference_id: str
    model: str
    node_id: str
    plan: str
    started_at: float
    state: str = "running"
    prompt_tokens: int | None = None
    generated_tokens: int = 0
    time_to_first_token_ms: float | None = None
    tokens_per_s: float | None = None
    ended_at: float | None = None
    error: str | None = None
    _first_at: float | None = field(default=None, repr=False)

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_first_at")
        return data


class Inferences:
    """Active generations and the last RECENT_KEPT finished ones."""

    def __init__(self) -> None:
        self.items: OrderedDict[str, Inference] = OrderedDict()

    def start(self, model: str, node_id: str) -> Inference:
        record = Inference("i" + secrets.token_hex(6), model, node_id, "single_node", time.time())
        self.items[record.inference_id] = record
        finished = [k for k, v in self.items.items() if v.state != "running"]
        for key in finished[: max(0, len(finished) - RECENT_KEPT)]:
            del self.items[key]
        return record

    def token(self, record: Inference, pieces: int = 1) -> None:
        if record._first_at is None:
            record._first_at = time.time()
            record.time_to_first_token_ms = round((record._first_at - record.started_at) * 1000, 3)
        record.generated_tokens += pieces

    def finish(
        self, record: Inference, state: str, done: Event | None = None, error: str | None = None
    ) -> None:
        record.state, record.ended_at, record.error = state, time.time(), error
        if done:
            record.prompt_tokens = done.get("prompt_tokens")
            record.generated_tokens = done.get("completion_tokens") or record.generated_tokens
            eval_ns = done.get("eval_duration_ns") or 0
            if eval_ns:
                record.tokens_per_s = round(record.generated_tokens / (eval_ns / 1e9), 3)


class ChatRouter:
    def __init__(
        self,
        ctx: Context,
        service: LlmService,
        backend: OllamaBackend,
        membership: Membership,
        peers: PeerClient,
    ) -> None:
        self.ctx = ctx
        self.service = service
        self.backend = backend
        self.membership = membership
        self.peers = peers
        self.inferences = Inferences()

    def route(self, model: str) -> str:
        holders, known = [], False
        for node in self.service.capabilities()["nodes"]:
            llm = node["llm"] or {}
            if not any(m.get("name") == model for m in llm.get("models") or []):
                continue
            known = True
            if node["state"] == ONLINE and llm.get("up"):
                holders.append(node)
        if not holders:
            if known:
                raise ServiceUnavailable(
                    f"no online node can run {model} right now",
                    code="LLM_BACKEND_UNAVAILABLE",
                    details={"model": model},
                )
            raise NotFound(
                f"no node in the cluster has the model {model}; pull it first",
                code="MODEL_NOT_FOUND",
                details={"model": model},
            )
        me = self.membership.node_id
        if any(n["node_id"] == me for n in holders):
            return me
        return min(holders, key=lambda n: (-n["free_ram"], n["node_id"]))["node_id"]

    async def generate(
        self, node_id: str, model: str, messages: list[dict[str, Any]], options: dict[str, Any]
    ) -> AsyncIterator[Event]:
        if node_id == self.membership.node_id:
            return await local_generation(self.backend, model, messages, options)
        return await self._remote(node_id, model, messages, options)

    async def _remote(
        self, node_id: str, model: str, messages: list[dict[str, Any]], options: dict[str, Any]
    ) -> AsyncIterator[Event]:
        target = self.membership.target(self.membership.members[node_id])
        body = {"model": model, "messages": messages, "options": options}
        stream = self.peers.stream(target, "POST", "/peer/llm/chat", json_body=body, timeout=None)
        try:
            response = await stream.__aenter__()
        except PeerUnreachable as exc:
            raise ServiceUnavailable(
                f"node {node_id} is unreachable: {exc}", code="LLM_BACKEND_UNAVAILABLE"
            ) from None
        if response.status_code != 200:
            payload = json.loads(await response.aread() or b"{}")
            await stream.__aexit__(None, None, None)
            raise ApiError(
                payload.get("error", "remote generation failed"),
                code=payload.get("error_code", "LLM_REMOTE_ERROR"),
                details=payload.get("details") or {},
                status=response.status_code,
            )

        async def events() -> AsyncIterator[Event]:
            try:
                async for line in response.aiter_lines():
                    if line:
                        yield json.loads(line)
            except httpx.HTTPError as exc:
                yield {"type": "error", "error": f"lost the stream from {node_id}: {exc}"}
            finally:
                await stream.__aexit__(None, None, None)

        return events()


async def local_generation(
    backend: OllamaBackend, model: str, messages: list[dict[str, Any]], options: dict[str, Any]
) -> AsyncIterator[Event]:
    """Start the generation here; raises before the first token on a known failure."""
    try:
        parts = await backend.client.chat(
            model=model, messages=messages, options=options or None, stream=True
        )
        iterator = parts.__aiter__()
        first = await iterator.__anext__()
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise NotFound(
                f"this node has no model {model}", code="MODEL_NOT_FOUND", details={"model": model}
            ) from None
        raise backend.down(f"{exc.status_code}: {exc.error}") from None
    except (httpx.HTTPError, ConnectionError, OSError) as exc:
        raise backend.down(str(exc) or type(exc).__name__) from None
    except StopAsyncIteration:
        raise backend.down("the answer ended before it began") from None

    async def events() -> AsyncIterator[Event]:
        part = first
        try:
            while True:
                content = part.message.content if part.message else ""
                if content:
                    yield {"type": "token", "content": content}
                if part.done:
                    yield {
                        "type": "done",
                        "done_reason": part.done_reason,
                        "prompt_tokens": part.prompt_eval_count,
                        "completion_tokens": part.eval_count,
                        "eval_duration_ns": part.eval_duration,
                        "total_duration_ns": part.total_duration,
                    }
                    # Read to the end of Ollama's answer, so its connection is reused.
                    async for _ in iterator:
                        pass
                    return
                part = await iterator.__anext__()
        except StopAsyncIteration:
            return
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError, OSError) as exc:
            yield {"type": "error", "error": str(exc)}
        finally:
            # Closing the stream tells Ollama to stop generating for a caller who left.
            closer = getattr(parts, "aclose", None)
            if closer is not None:
                with anyio.CancelScope(shield=True):
                    await closer()

    return events()
