"""The LLM routes' answers and events against what the agent publishes: every route declares
its answer model, real answers validate against `/api/openapi.json`, and every event matches
its topic's payload model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from starlette.routing import Route

from agent.app import create_app
from agent.llm import events
from agent.llm.chat import _remote_event
from agent.llm.models_streams import (
    DoneEvent,
    ErrorEvent,
    PullFinished,
    PullProgress,
    StreamError,
    TokenEvent,
    ToolCallsEvent,
)
from agent.llm.pull import _remote_step
from tests.fakes.ollama import FakeOllama, serve_fake_ollama
from tests.fakes.ollama_models import make_model
from tests.harness import live_agent, make_settings

MODEL = "qwen2.5:0.5b"
LLM_TAGS = ("llm", "openai")
# Routes that only ever answer with a stream.
STREAM_ONLY = {("POST", "/api/llm/pull")}


def llm_routes(home: Path) -> list[tuple[str, Route]]:
    app = create_app(make_settings(home))
    found = []
    for route in app.routes:
        doc = getattr(route, "doc", None)
        if isinstance(route, Route) and doc is not None and doc.tag in LLM_TAGS:
            found += [(method, route) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def test_every_llm_route_declares_its_answer(tmp_path: Path) -> None:
    routes = llm_routes(tmp_path / "home")
    assert len(routes) == 15  # 4 pool, 8 chat and sessions, 1 pull, 2 OpenAI
    for method, route in routes:
        doc = route.doc  # type: ignore[attr-defined]
        if (method, route.path) in STREAM_ONLY:
            assert doc.streams, route.path
            assert doc.answer is None, route.path
        else:
            assert doc.answer is not None, f"{method} {route.path} declares no answer model"


class Published:
    """The agent's OpenAPI document, and a validator per route's answer schema."""

    def __init__(self, spec: dict[str, Any], routes: list[tuple[str, Route]]) -> None:
        self.spec = spec
        self.answers = {(m, r.path): r.doc.answer for m, r in routes}  # type: ignore[attr-defined]
        self.checked: set[tuple[str, str]] = set()

    def check(self, method: str, template: str, response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        assert response.headers["content-type"].startswith("application/json")
        name = self.answers[(method, template)].__name__
        schemas = self.spec["components"]["schemas"]
        assert name in schemas, f"{name} is not published"
        operation = self.spec["paths"][template.replace(":path}", "}")][method.lower()]
        ok = operation["responses"][str(response.status_code)]["content"]
        if "application/json" in ok:  # a stream's JSON answer has no schema of its own there
            assert ok["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
        validator = jsonschema_rs.validator_for(
            {**schemas[name], "components": self.spec["components"]}
        )
        body = response.json()
        errors = [
            f"{'/'.join(map(str, e.instance_path))}: {e.message}"
            for e in validator.iter_errors(body)
        ]
        assert errors == [], f"{method} {template} does not match {name}: {errors[:5]}"
        self.checked.add((method, template))
        return body


def layered_model() -> Any:
    """A model whose KV head count is given per layer, as some architectures do."""
    return make_model(
        "layered:1b",
        parameter_count=1_000_000_000,
        block_count=4,
        context_length=4096,
        embedding_length=1024,
        head_count=8,
        head_count_kv=8,
        model_info={"llama.attention.head_count_kv": [8, 8, 4, 4]},
    )


async def test_real_answers_and_events_match_what_is_published(tmp_path: Path) -> None:
    fake = FakeOllama(models=[MODEL, "llama3.1:8b", layered_model()], reply_text="hello there")
    async with (
        serve_fake_ollama(fake) as ollama,
        live_agent(make_settings(tmp_path / "home", ollama_url=ollama.url)) as agent,
        agent.client() as client,
    ):
        bus = agent.server.config.app.state.bus
        spec = (await client.get("/api/openapi.json")).json()
        wire = Published(spec, llm_routes(tmp_path / "other"))

        status = wire.check("GET", "/api/llm/status", await client.get("/api/llm/status"))
        assert status["up"] is True
        layered = next(m for m in status["models"] if m["name"] == "layered:1b")
        assert layered["model_info"]["llama.attention.head_count_kv"] == [8, 8, 4, 4]
        caps = await client.get("/api/llm/inference/capabilities")
        wire.check("GET", "/api/llm/inference/capabilities", caps)
        catalog = wire.check("GET", "/api/llm/models", await client.get("/api/llm/models"))
        plans = {m["name"]: m["plan"]["verdict"] for m in catalog["models"]}
        assert plans["layered:1b"] == "single_node"

        created = await client.post("/api/llm/sessions", json={"title": "t"})
        sid = wire.check("POST", "/api/llm/sessions", created)["session_id"]
        chat = {"model": MODEL, "session_id": sid, "message": "hi", "stream": False}
        answer = wire.check("POST", "/api/llm/chat", await client.post("/api/llm/chat", json=chat))
        assert answer["message"] == {"role": "assistant", "content": "hello there"}
        wire.check("GET", "/api/llm/sessions", await client.get("/api/llm/sessions"))
        one = await client.get(f"/api/llm/sessions/{sid}")
        assert wire.check("GET", "/api/llm/sessions/{session_id}", one)["messages"][1]["stats"]
        renamed = await client.put(f"/api/llm/sessions/{sid}/title", json={"title": "new"})
        wire.check("PUT", "/api/llm/sessions/{session_id}/title", renamed)
        gone = await client.delete(f"/api/llm/sessions/{sid}")
        wire.check("DELETE", "/api/llm/sessions/{session_id}", gone)

        listed = await client.get("/api/llm/inference/sessions")
        inference = wire.check("GET", "/api/llm/inference/sessions", listed)["sessions"][0]
        single = await client.get(f"/api/llm/inference/sessions/{inference['inference_id']}")
        wire.check("GET", "/api/llm/inference/sessions/{inference_id}", single)

        wire.check("GET", "/v1/models", await client.get("/v1/models"))
        completion = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        done = await client.post("/v1/chat/completions", json=completion)
        assert wire.check("POST", "/v1/chat/completions", done)["usage"]["total_tokens"] > 0

        async with client.stream("POST", "/api/llm/pull", json={"model": "llama3.2:3b"}) as pull:
            assert [line async for line in pull.aiter_lines()][-2].startswith("data: ")
        deleted = await client.delete("/api/llm/models/llama3.1:8b")
        wire.check("DELETE", "/api/llm/models/{model:path}", deleted)

        unchecked = set(wire.answers) - wire.checked - STREAM_ONLY
        assert unchecked == set()
        seen = bus.recent(["llm"], limit=1000)

    by_name = {t.name: t for t in events.TOPICS}
    assert {e.topic for e in seen} == set(by_name)
    for event in seen:
        payload = by_name[event.topic].payload.model_validate(event.data)
        assert payload.model_dump(mode="json") == event.data, event.topic
    pulled = next(e.data for e in seen if e.topic == "llm.model.pulled")
    assert pulled == {"model": "llama3.2:3b", "node_id": status["node_id"]}


def test_every_llm_topic_is_declared_once() -> None:
    names = [t.name for t in events.TOPICS]
    assert sorted(names) == [
        "llm.backend",
        "llm.generated",
        "llm.model.deleted",
        "llm.model.pulled",
        "llm.session.changed",
    ]
    for topic in events.TOPICS:
        assert topic.summary
        assert topic.payload.model_json_schema(mode="serialization")["properties"]


def test_no_llm_module_publishes_a_string_topic() -> None:
    sources = Path(events.__file__).parent.glob("*.py")
    for source in sources:
        text = source.read_text()
        assert 'publish("' not in text, source.name
        assert "publish(f" not in text, source.name


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('{"status": "pulling manifest"}', PullProgress),
        (
            '{"status": "pulling ab", "digest": "sha256:ab", "completed": 1, "total": 2}',
            PullProgress,
        ),
        ('{"done": true}', PullFinished),
        ('{"error": "no such model", "error_code": "PULL_FAILED"}', StreamError),
        ('{"status": 5}', StreamError),
        ("[1, 2]", StreamError),
        ("not json", StreamError),
    ],
)
def test_a_members_pull_steps_are_parsed_never_trusted(line: str, kind: type) -> None:
    step = _remote_step("n2", line)
    assert isinstance(step, kind)
    if kind is PullProgress:  # relayed as the member sent it
        assert json.loads(step.model_dump_json(exclude_none=True)) == json.loads(line)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('{"type": "token", "content": "hi"}', TokenEvent),
        ('{"type": "done", "prompt_tokens": 3, "completion_tokens": 2}', DoneEvent),
        ('{"type": "error", "error": "Ollama went away"}', ErrorEvent),
        ('{"type": "done", "prompt_tokens": "many"}', ErrorEvent),
        ('{"type": "poem"}', ErrorEvent),
        ('{"content": "no type"}', ErrorEvent),
        ("", ErrorEvent),
        (
            '{"type": "tool_calls", "calls": [{"name": "add", "arguments": {"a": 1}}]}',
            ToolCallsEvent,
        ),
        ('{"type": "tool_calls", "calls": [{"name": "add", "arguments": "a=1"}]}', ErrorEvent),
        (
            '{"type": "tool_calls", "calls": [{"name": "' + "n" * 300 + '", "arguments": {}}]}',
            ErrorEvent,
        ),
        (
            '{"type": "tool_calls", "calls": ['
            + ",".join(['{"name": "a", "arguments": {}}'] * 65)
            + "]}",
            ErrorEvent,
        ),
    ],
)
def test_a_members_generation_events_are_parsed_never_trusted(line: str, kind: type) -> None:
    assert isinstance(_remote_event("n2", line), kind)
