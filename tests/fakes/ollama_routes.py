"""The fake's endpoints: Ollama's `/api/*` (bodies and errors as the real server sends them)
plus `/_fake/*` to script a fake that runs in another process."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.ollama_models import normalize_name
from tests.fakes.ollama_proto import (
    Failure,
    Recorded,
    count_tokens,
    fake_embedding,
    generation_stats,
    parse_keep_alive,
    rfc3339,
    split_tokens,
)

if TYPE_CHECKING:
    from tests.fakes.ollama_app import Event, FakeOllama

Body = dict[str, Any]
Handler = Callable[[Body, Failure | None], Awaitable[Response]]
STREAMING = {"/api/pull", "/api/chat", "/api/generate"}


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def _not_pulled(name: str) -> JSONResponse:
    return _error(f'model "{name}" not found, try pulling it first', 404)


def api_routes(fake: FakeOllama) -> list[Route]:
    api = _Api(fake)

    def route(path: str, handler: Handler, method: str = "POST") -> Route:
        async def endpoint(request: Request) -> Response:
            fake.calls[path] += 1
            raw = await request.body()
            try:
                body = json.loads(raw) if raw and method != "GET" else {}
            except ValueError as exc:
                return _error(str(exc), 400)
            fake.requests.append(Recorded(method, path, body))
            failure = fake.take_failure(path)
            if failure is not None:
                streams = path in STREAMING and body.get("stream", True) is not False
                if failure.mid_stream_after is None or not streams:
                    return _error(failure.error, failure.status)
            return await handler(body, failure)

        return Route(path, endpoint, methods=[method])

    async def root(_: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    return [
        Route("/", root, methods=["GET", "HEAD"]),
        route("/api/version", api.version, "GET"),
        route("/api/tags", api.tags, "GET"),
        route("/api/ps", api.ps, "GET"),
        route("/api/show", api.show),
        route("/api/delete", api.delete, "DELETE"),
        route("/api/pull", api.pull),
        route("/api/chat", api.chat),
        route("/api/generate", api.generate),
        route("/api/embed", api.embed),
    ]


class _Api:
    def __init__(self, fake: FakeOllama) -> None:
        self.fake = fake

    async def version(self, body: Body, _: Failure | None) -> Response:
        return JSONResponse({"version": self.fake.version})

    async def tags(self, body: Body, _: Failure | None) -> Response:
        models = sorted(self.fake.models.values(), key=lambda m: m.modified_at, reverse=True)
        return JSONResponse({"models": [m.tag_entry() for m in models]})

    async def ps(self, body: Body, _: Failure | None) -> Response:
        models = [
            {
                **{k: v for k, v in m.spec.tag_entry().items() if k != "modified_at"},
                "expires_at": rfc3339(m.expires_at),
                "size_vram": m.size_vram,
                "context_length": m.context_length,
            }
            for m in self.fake.running()
        ]
        return JSONResponse({"models": models})

    async def show(self, body: Body, _: Failure | None) -> Response:
        name = str(body.get("model") or body.get("name") or "")
        if not name:
            return _error("model is required", 400)
        spec = self.fake.model(name)
        if spec is None:
            return _error(f"model '{name}' not found", 404)
        return JSONResponse(spec.show())

    async def delete(self, body: Body, _: Failure | None) -> Response:
        name = str(body.get("model") or body.get("name") or "")
        spec = self.fake.model(name) if name else None
        if spec is None:
            return _error(f"model '{name}' not found", 404)
        del self.fake.models[spec.name.lower()]
        self.fake.unload(spec.name)
        self.fake.changed()
        return Response(status_code=200)

    async def pull(self, body: Body, failure: Failure | None) -> Response:
        fake = self.fake
        name = str(body.get("model") or body.get("name") or "")
        if not name:
            return _error("invalid model name", 400)
        spec = fake.registry.get(normalize_name(name).lower())
        events: list[Event] = [{"status": "pulling manifest"}]
        if spec is None:
            events.append({"error": "pull model manifest: file does not exist"})
        else:
            chunks = max(fake.pull_chunks, 1)
            for layer in spec.layers():
                digest, total = layer["digest"], layer["size"]
                for i in range(chunks + 1):
                    event = {"status": f"pulling {digest[7:19]}", "digest": digest, "total": total}
                    # Go omits a zero `completed` (omitempty).
                    events.append({**event, "completed": total * i // chunks} if i else event)
            events += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
            events.append(lambda: fake.install(spec))
        stream = fake.paced(events, failure, fake.pull_delay_s, "pull_gate", 2)
        return await fake.respond(body, stream, lambda final: final)

    async def chat(self, body: Body, failure: Failure | None) -> Response:
        messages = body.get("messages") or []
        tools = body.get("tools")
        if tools is not None and not _valid_tools(tools):
            return _error("json: cannot unmarshal tools", 400)
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        prompt = " ".join(str(m.get("content") or "") for m in messages)
        text = str(last_user.get("content") or "")
        return await self._infer(body, failure, "chat", text, prompt, bool(messages))

    async def generate(self, body: Body, failure: Failure | None) -> Response:
        prompt = str(body.get("prompt") or "")
        full = f"{body.get('system') or ''} {prompt}"
        return await self._infer(body, failure, "generate", prompt, full, bool(prompt))

    async def _infer(
        self, body: Body, failure: Failure | None, kind: str, text: str, prompt: str,
        has_input: bool,
    ) -> Response:  # fmt: skip
        fake = self.fake
        name = str(body.get("model") or "")
        if not name:
            return _error("model is required", 400)
        spec = fake.model(name)
        if spec is None:
            return _not_pulled(name)
        if "completion" not in spec.capabilities:
            return _error(f'"{name}" does not support {kind}', 400)
        if body.get("tools") and "tools" not in spec.capabilities:
            return _error(f'"{name}" does not support tools', 400)
        try:
            keep_alive = parse_keep_alive(body.get("keep_alive"), fake.keep_alive_s)
        except ValueError as exc:
            return _error(str(exc), 400)
        options = body.get("options") or {}
        cold = not fake.is_loaded(spec.name)
        field = "message" if kind == "chat" else "response"

        def piece(content: str) -> Any:
            return {"role": "assistant", "content": content} if kind == "chat" else content

        if not has_input:  # an empty request loads (or, with keep_alive 0, unloads) the model
            if keep_alive == 0:
                fake.unload(spec.name)
            else:
                fake.load(spec.name, keep_alive_s=keep_alive)
            reason = "unload" if keep_alive == 0 else "load"
            head = {"model": name, "created_at": rfc3339(), field: piece("")}
            return JSONResponse({**head, "done_reason": reason, "done": True})
        fake.load(spec.name, keep_alive_s=keep_alive, num_ctx=int(options.get("num_ctx", 4096)))
        calls = fake.tool_calls_for(body) if kind == "chat" and body.get("tools") else None
        tokens = [] if calls else split_tokens(fake.reply_for(text))
        reason, limit = "stop", int(options.get("num_predict", -1))
        if 0 <= limit < len(tokens):
            tokens, reason = tokens[:limit], "length"
        stats = generation_stats(
            count_tokens(prompt) + 10,
            len(tokens) or count_tokens(json.dumps(calls)),
            cold=cold,
            ns_per_token=int(fake.token_delay_s * 1e9) or 20_000_000,
        )

        def chunk(content: str, done: bool = False) -> dict[str, Any]:
            head = {"model": name, "created_at": rfc3339(), field: piece(content)}
            return {**head, "done": done}

        def final() -> dict[str, Any]:
            if keep_alive == 0:
                fake.unload(spec.name)
            context = {"context": list(range(1, 11))} if kind == "generate" else {}
            return {**chunk("", True), "done_reason": reason, **context, **stats}

        events: list[Event] = [partial(chunk, t) for t in tokens]
        whole = piece("".join(tokens))
        if calls:
            # Ollama sends a model's tool calls whole, in one message before the final one.
            asked = {"role": "assistant", "content": "", "tool_calls": calls}
            events = [lambda: {**chunk(""), "message": asked}]
            whole = asked
        stream = fake.paced([*events, final], failure, fake.token_delay_s, "gate", None)
        return await fake.respond(body, stream, lambda last: {**last, field: whole})

    async def embed(self, body: Body, _: Failure | None) -> Response:
        name = str(body.get("model") or "")
        spec = self.fake.model(name) if name else None
        if spec is None:
            return _not_pulled(name)
        raw = body.get("input") or []
        inputs = [raw] if isinstance(raw, str) else [str(t) for t in raw]
        cold = not self.fake.is_loaded(spec.name)
        self.fake.load(spec.name)
        stats = generation_stats(sum(count_tokens(t) for t in inputs), 0, cold=cold, ns_per_token=0)
        keep = ("total_duration", "load_duration", "prompt_eval_count")
        return JSONResponse(
            {
                "model": name,
                "embeddings": [fake_embedding(t, spec.embedding_length) for t in inputs],
                **{k: stats[k] for k in keep},
            }
        )


def _valid_tools(tools: Any) -> bool:
    """Ollama's shape: a list of {"type": "function", "function": {"name": ..., ...}}."""
    if not isinstance(tools, list):
        return False
    return all(
        isinstance(t, dict)
        and isinstance(t.get("function"), dict)
        and isinstance(t["function"].get("name"), str)
        for t in tools
    )


def control_routes(fake: FakeOllama) -> list[Route]:
    """`/_fake/*`: script a fake in another process (not part of Ollama's API)."""

    async def stats(_: Request) -> Response:
        return JSONResponse(fake.stats())

    async def fail_next(request: Request) -> Response:
        fake.fail_next(**await request.json())
        return JSONResponse({"pending": len(fake.failures)})

    async def gate(request: Request) -> Response:
        body = await request.json()
        attr = "pull_gate" if body.get("pulls") else "gate"
        if body.get("open", True):
            fake.release()
        elif attr == "pull_gate":
            fake.hold_pulls()
        else:
            fake.hold()
        return JSONResponse({"holding": fake.waiting_at_gate})

    async def config(request: Request) -> Response:
        body = await request.json()
        for key, value in body.items():
            settable = {"version", "reply_prefix", "reply_text", "token_delay_s", "vram_bytes"}
            if key not in {*settable, "tool_rounds"}:
                return _error(f"cannot set {key!r}", 400)
            setattr(fake, key, value)
        return JSONResponse(fake.stats())

    return [
        Route("/_fake/stats", stats, methods=["GET"]),
        Route("/_fake/fail_next", fail_next, methods=["POST"]),
        Route("/_fake/gate", gate, methods=["POST"]),
        Route("/_fake/config", config, methods=["POST"]),
    ]
