"""FakeOllama: an ASGI app speaking Ollama's HTTP API (docs/api.md), with scriptable state.

Import it from `tests.fakes.ollama`, which also serves it with uvicorn. The endpoints live in
`ollama_routes`; this module holds the state tests script and assert on.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.ollama_models import CATALOG, ModelSpec, as_spec, normalize_name
from tests.fakes.ollama_proto import NDJSON, Failure, Loaded, Recorded, ndjson, rfc3339
from tests.fakes.ollama_routes import api_routes, control_routes

ReplyFn = Callable[[str], str]
# A chat request's body -> the tool calls to answer it with ({"name", "arguments"}), or None
# to answer in text.
ToolPlanner = Callable[[dict[str, Any]], list[dict[str, Any]] | None]
Event = dict[str, Any] | Callable[[], dict[str, Any]]
ModelLike = str | ModelSpec | dict[str, Any]
STATE_KEYS = (
    "version", "reply_prefix", "reply_text", "token_delay_s", "gate_after", "pull_chunks",
    "pull_delay_s", "vram_bytes", "keep_alive_s",
)  # fmt: skip


class FakeOllama:
    """Ollama's API over in-memory state. Every attribute is safe to change mid-test.

    models: installed models (catalog names like "llama3.1:8b", ModelSpec, or dicts).
    registry: what `/api/pull` can fetch (default: the whole catalog).
    reply: last user message -> reply text (default: echo it, after `reply_prefix`;
        or `reply_text` when set). Replies stream word by word, `token_delay_s` apart.
    gate / pull_gate: asyncio.Event; while unset, generations hold after `gate_after` chunks
        (pulls after their first progress line). `holding` is set while one waits there.
    vram_bytes: None = every loaded model fits in VRAM; else size_vram = min(size, vram_bytes).
    tool_rounds / tool_planner: tool calling. A chat that offers `tools` (to a model with the
        "tools" capability; others answer 400 as Ollama does) is answered with the next
        queued round of calls (`script_tool_calls`), or with what `tool_planner(body)` returns
        when set; None or an empty queue answers in text as usual. Calls are {"name",
        "arguments"}; they go out as Ollama's `message.tool_calls`.
    """

    def __init__(
        self,
        *,
        models: Iterable[ModelLike] = (),
        registry: Iterable[ModelLike] | None = None,
        version: str = "0.6.5",
        reply: ReplyFn | None = None,
        reply_prefix: str = "",
        reply_text: str | None = None,
        token_delay_s: float = 0.0,
        gate_after: int = 1,
        pull_chunks: int = 3,
        pull_delay_s: float = 0.0,
        vram_bytes: int | None = None,
        keep_alive_s: float = 300.0,
        loaded: Iterable[str] = (),
    ) -> None:
        self.models: dict[str, ModelSpec] = {}
        self.registry: dict[str, ModelSpec] = {}
        for m in models:
            self.add_model(m)
        for m in list(CATALOG) if registry is None else registry:  # catalog names: copies
            self.add_to_registry(m)
        self.version, self.reply, self.reply_prefix = version, reply, reply_prefix
        self.reply_text, self.token_delay_s, self.gate_after = reply_text, token_delay_s, gate_after
        self.pull_chunks, self.pull_delay_s = pull_chunks, pull_delay_s
        self.vram_bytes, self.keep_alive_s = vram_bytes, keep_alive_s
        self.gate: asyncio.Event | None = None
        self.pull_gate: asyncio.Event | None = None
        self.holding = asyncio.Event()  # set while some stream waits at a gate
        self.aborted_event = asyncio.Event()  # set when a stream ends early (client gone)
        self.waiting_at_gate = self.aborted = self.completed = 0
        self.calls: Counter[str] = Counter()  # "/api/chat" -> number of calls
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.loaded: dict[str, Loaded] = {}
        self.tool_rounds: list[list[dict[str, Any]]] = []
        self.tool_planner: ToolPlanner | None = None
        self.on_change: Callable[[], None] | None = None  # after pull/delete (persistence)
        for name in loaded:
            self.load(name)
        self.app = Starlette(routes=[*api_routes(self), *control_routes(self)])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # -- scripting ----------------------------------------------------------------------
    def add_model(self, model: ModelLike) -> ModelSpec:
        spec = as_spec(model)
        self.models[spec.name.lower()] = spec
        return spec

    def add_to_registry(self, model: ModelLike) -> ModelSpec:
        spec = as_spec(model)
        self.registry[spec.name.lower()] = spec
        return spec

    def model(self, name: str) -> ModelSpec | None:
        return self.models.get(normalize_name(name).lower())

    def fail_next(
        self,
        status: int = 500,
        error: str = "an error was encountered while running the model",
        *,
        endpoint: str | None = None,
        mid_stream_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next `times` calls (to `endpoint`, e.g. "/api/chat", or to any) with
        `status` and `{"error": error}`; with `mid_stream_after=n` a streaming call instead
        sends n lines, then `{"error": error}` (status 200, as Ollama does mid-stream)."""
        self.failures.extend(
            Failure(status, error, endpoint, mid_stream_after) for _ in range(times)
        )

    def take_failure(self, path: str) -> Failure | None:
        failure = next((f for f in self.failures if f.endpoint in (None, path)), None)
        if failure is not None:
            self.failures.remove(failure)
        return failure

    def script_tool_calls(self, *rounds: list[dict[str, Any]]) -> None:
        """Queue rounds of tool calls, each a list of {"name": ..., "arguments": {...}}."""
        self.tool_rounds.extend(rounds)

    def hold(self) -> asyncio.Event:
        """Hold generations at the gate (see `gate_after`) until `release()`."""
        self.gate = asyncio.Event()
        return self.gate

    def hold_pulls(self) -> asyncio.Event:
        self.pull_gate = asyncio.Event()
        return self.pull_gate

    def release(self) -> None:
        for gate in (self.gate, self.pull_gate):
            if gate is not None:
                gate.set()

    def load(self, name: str, *, keep_alive_s: float | None = None, num_ctx: int = 4096) -> None:
        """Put a model "in memory" (what chat/generate/embed do), so `/api/ps` lists it."""
        spec = self.model(name)
        if spec is None:
            raise KeyError(name)
        vram = spec.size if self.vram_bytes is None else min(spec.size, self.vram_bytes)
        expires = time.time() + (self.keep_alive_s if keep_alive_s is None else keep_alive_s)
        self.loaded[spec.name.lower()] = Loaded(spec, vram, expires, num_ctx)

    def unload(self, name: str) -> None:
        self.loaded.pop(normalize_name(name).lower(), None)

    def running(self) -> list[Loaded]:
        now = time.time()
        self.loaded = {k: v for k, v in self.loaded.items() if v.expires_at > now}
        return sorted(self.loaded.values(), key=lambda m: -m.expires_at)

    def is_loaded(self, name: str) -> bool:
        return any(m.spec.name.lower() == normalize_name(name).lower() for m in self.running())

    def last_request(self, path: str) -> dict[str, Any] | None:
        return next((r.body for r in reversed(self.requests) if r.path == path), None)

    @property
    def last_chat(self) -> dict[str, Any] | None:
        return self.last_request("/api/chat")

    def stats(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "aborted": self.aborted,
            "completed": self.completed,
            "waiting_at_gate": self.waiting_at_gate,
            "models": [m.name for m in self.models.values()],
            "loaded": [m.spec.name for m in self.running()],
            "last_chat": self.last_chat,
        }

    def to_state(self) -> dict[str, Any]:
        """JSON-able config + models, for `python -m tests.fakes.ollama --state-file`."""
        return {
            **{k: getattr(self, k) for k in STATE_KEYS},
            "models": [m.to_dict() for m in self.models.values()],
            "registry": [m.to_dict() for m in self.registry.values()],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FakeOllama:
        return cls(**{k: v for k, v in state.items() if k in {*STATE_KEYS, "models", "registry"}})

    # -- used by the routes -------------------------------------------------------------
    def reply_for(self, text: str) -> str:
        if self.reply is not None:
            return self.reply(text)
        return self.reply_prefix + (self.reply_text if self.reply_text is not None else text)

    def tool_calls_for(self, body: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The `tool_calls` to answer a chat that offers tools with (None: answer in text)."""
        if self.tool_planner is not None:
            calls = self.tool_planner(body)
        else:
            calls = self.tool_rounds.pop(0) if self.tool_rounds else None
        if not calls:
            return None
        return [
            {"function": {"name": c["name"], "arguments": c.get("arguments") or {}}} for c in calls
        ]

    def install(self, spec: ModelSpec) -> dict[str, Any]:
        """The end of a successful pull: the model is now local."""
        installed = self.add_model(ModelSpec.from_dict(spec.to_dict()))
        installed.modified_at = rfc3339()
        self.changed()
        return {"status": "success"}

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    async def respond(
        self,
        body: dict[str, Any],
        events: AsyncIterator[dict[str, Any]],
        collapse: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Response:
        """NDJSON when streaming (the default); else one object, like Ollama's waitForStream
        (an error anywhere becomes a 500 with that error)."""
        if body.get("stream", True) is not False:
            return StreamingResponse(ndjson(events), media_type=NDJSON)
        last: dict[str, Any] = {}
        async for event in events:
            if "error" in event:
                return JSONResponse({"error": event["error"]}, 500)
            last = event
        return JSONResponse(collapse(last))

    async def paced(
        self,
        events: list[Event],
        failure: Failure | None,
        delay_s: float,
        gate_attr: str,
        gate_after: int | None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield events `delay_s` apart, hold at the gate (read live from `gate_attr`) after
        `gate_after` of them, inject a mid-stream error, count streams that end early."""
        finished = False
        try:
            for i, event in enumerate(events):
                if failure is not None and failure.mid_stream_after == i:
                    finished = True
                    yield {"error": failure.error}
                    return
                gate: asyncio.Event | None = getattr(self, gate_attr)
                at = self.gate_after if gate_after is None else gate_after
                if gate is not None and not gate.is_set() and i == at:
                    await self._wait_at(gate)
                if delay_s and i:
                    await asyncio.sleep(delay_s)
                item = event() if callable(event) else event
                finished = i == len(events) - 1 or "error" in item
                yield item
        finally:
            if finished:
                self.completed += 1
            else:
                self.aborted += 1
                self.aborted_event.set()

    async def _wait_at(self, gate: asyncio.Event) -> None:
        self.waiting_at_gate += 1
        self.holding.set()
        try:
            await gate.wait()
        finally:
            self.waiting_at_gate -= 1
            if not self.waiting_at_gate:
                self.holding.clear()
