"""The storage routes' answers and events against what the agent publishes: every JSON route
declares its answer model, real answers validate against `/api/openapi.json` and read back as
the same JSON through the models, and every event carries exactly its topic's payload."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel
from starlette.routing import Route
from starlette.testclient import TestClient

from agent.storage import events
from agent.storage.models import StorageDeleted, StorageListing, StoredFile
from agent.topics import all_topics
from tests.harness import REPO, LiveAgent
from tests.ops.published import answer_schema, assert_matches

ANSWERS: dict[tuple[str, str], type[BaseModel] | None] = {
    ("GET", "/api/storage"): StorageListing,
    ("POST", "/api/storage/upload"): StoredFile,
    ("DELETE", "/api/storage/{path:path}"): StorageDeleted,
    # The file's bytes: no JSON, no answer model.
    ("GET", "/api/storage/{path:path}"): None,
}
SERVER_MODULES = ("agent.storage", "starlette", "uvicorn", "aiosqlite", "sse_starlette")


def exact(model: type[BaseModel], body: dict[str, Any]) -> None:
    """`body` has exactly the model's fields and reads back as itself (the SDK's
    `model_dump(mode="json")` is then the JSON the agent sent)."""
    assert set(body) == set(model.model_fields), (model.__name__, sorted(body))
    assert model.model_validate(body).model_dump(mode="json") == body


def test_every_storage_route_declares_its_answer(api: TestClient) -> None:
    declared = {
        (method, route.path): route.doc.answer  # type: ignore[attr-defined]
        for route in api.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and getattr(route, "doc", None) is not None
        if route.doc.tag == "storage"  # type: ignore[attr-defined]
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert declared == ANSWERS
    spec = api.get("/api/openapi.json").json()
    for (method, path), model in ANSWERS.items():
        if model is not None:
            published = answer_schema(spec, method, path.replace(":path", ""))
            assert published["$ref"].endswith("/" + model.__name__)


async def test_real_answers_match_the_published_schemas(live: LiveAgent) -> None:
    async with live.client() as client:
        spec = (await client.get("/api/openapi.json")).json()
        answers: list[tuple[str, str, type[BaseModel], httpx.Response]] = []

        raw = await client.post("/api/storage/upload?path=w/a.txt", content=b"alpha")
        empty = await client.post("/api/storage/upload?path=w/empty", content=b"")
        form = await client.post("/api/storage/upload", files={"file": ("b.md", b"beta")})
        again = await client.post(
            "/api/storage/upload?path=w/a.txt&overwrite=true", content=b"alpha two"
        )
        for response in (raw, empty, form, again):
            answers.append(("POST", "/api/storage/upload", StoredFile, response))
        for query in ("", "?prefix=w", "?prefix=nothing/here"):
            response = await client.get(f"/api/storage{query}")
            answers.append(("GET", "/api/storage", StorageListing, response))
        deleted = await client.delete("/api/storage/w/empty")
        answers.append(("DELETE", "/api/storage/{path}", StorageDeleted, deleted))

    for method, path, model, response in answers:
        assert response.is_success, response.text
        assert response.headers["content-type"] == "application/json"
        assert_matches(spec, method, path, response.json())
        exact(model, response.json())
    listed = StorageListing.model_validate(answers[5][3].json())
    assert [f.path for f in listed.files] == ["w/a.txt", "w/empty"]
    assert listed.count == 2
    assert listed.files[0].sha256 == StoredFile.model_validate(again.json()).sha256
    assert deleted.json() == {"path": "w/empty", "deleted": True}


async def storage_events(live: LiveAgent) -> list[tuple[str, dict[str, Any]]]:
    """Every storage event in the agent's replay ring, oldest first (without the stream's
    own markers)."""
    found: list[tuple[str, dict[str, Any]]] = []
    params = {"topics": "storage", "last_event_id": "0"}
    async with (
        live.client() as client,
        client.stream("GET", "/api/events", params=params) as response,
    ):
        topic = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                topic = line[7:]
            elif line.startswith("data: ") and topic is not None:
                if topic == "stream.replayed":
                    break
                found.append((topic, json.loads(line[6:])))
    return only_storage(found)


def only_storage(found: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    # A replay from the start begins with `stream.gap` once older events left the ring.
    return [(topic, data) for topic, data in found if not topic.startswith("stream.")]


def check_payloads(found: list[tuple[str, dict[str, Any]]]) -> None:
    by_name = {t.name: t for t in events.TOPICS}
    for name, data in found:
        assert name in by_name, f"{name} is not declared in agent.storage.events"
        exact(by_name[name].payload, data)


async def test_upload_and_delete_events_carry_their_payloads(live: LiveAgent) -> None:
    async with live.client() as client:
        stored = (await client.post("/api/storage/upload?path=ev/x", content=b"xyz")).json()
        assert (await client.delete("/api/storage/ev/x")).is_success
    found = await storage_events(live)
    check_payloads(found)
    assert found == [
        ("storage.uploaded", {"path": "ev/x", "size": 3, "sha256": stored["sha256"]}),
        ("storage.deleted", {"path": "ev/x"}),
    ]


def publish_calls(source: Path) -> list[ast.Call]:
    tree = ast.parse(source.read_text(), str(source))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "publish"
    ]


def test_every_publish_names_a_declared_topic() -> None:
    declared = {name for name in dir(events) if getattr(events, name) in events.TOPICS}
    calls = 0
    for source in sorted((REPO / "agent" / "storage").glob("*.py")):
        for call in publish_calls(source):
            calls += 1
            topic = call.args[0]
            assert isinstance(topic, ast.Name), f"{source.name}:{call.lineno} names no Topic"
            assert topic.id in declared, f"{source.name}:{call.lineno}: {topic.id}"
    assert calls == len(events.TOPICS)
    catalogue = {t.name for t in all_topics()}
    assert {t.name for t in events.TOPICS} <= catalogue
    assert all(t.name.startswith("storage.") for t in events.TOPICS)


def test_the_models_load_no_server_code() -> None:
    """models.py on its own, in a fresh interpreter: what it imports, nothing else loaded."""
    script = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('probe', 'agent/storage/models.py')\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules['probe'] = module\n"
        "spec.loader.exec_module(module)\n"
        "module.StorageListing.model_validate({'files': [], 'count': 0})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = json.loads(done.stdout)
    assert [m for m in loaded if m.startswith(SERVER_MODULES)] == []
