"""Memory inside the whole agent: its routes declare their answers (real answers match the
published schemas and read back through the SDK's models), it is the chat's `ctx.memory`,
and its events carry exactly their topics' payloads."""

from __future__ import annotations

from functools import partial
from typing import Any

import jsonschema_rs
from pydantic import BaseModel
from starlette.routing import Route
from starlette.testclient import TestClient

from agent.core.recollection import FactClaim, Recollection
from agent.memory import events
from agent.memory.models import (
    AddFactAnswer,
    FactList,
    FactRemoved,
    FactsCleared,
    FactSearchAnswer,
)
from agent.topics import all_topics
from tests.ops.published import assert_matches

ANSWERS: dict[tuple[str, str], type[BaseModel]] = {
    ("GET", "/api/memory"): FactList,
    ("POST", "/api/memory"): AddFactAnswer,
    ("DELETE", "/api/memory"): FactsCleared,
    ("GET", "/api/memory/search"): FactSearchAnswer,
    ("DELETE", "/api/memory/{fact_id}"): FactRemoved,
}


def exact(model: type[BaseModel], body: dict[str, Any]) -> None:
    assert model.model_validate(body).model_dump(mode="json") == body


def assert_created_schema(spec: dict[str, Any], body: dict[str, Any]) -> None:
    """POST /api/memory publishes its answer under 201 (200, same fact, answers the same)."""
    media = spec["paths"]["/api/memory"]["post"]["responses"]["201"]["content"]
    schema = {**media["application/json"]["schema"], "components": spec["components"]}
    assert list(jsonschema_rs.validator_for(schema).iter_errors(body)) == []


def test_routes_declare_their_answers(api: TestClient) -> None:
    declared = {
        (method, route.path): route.doc.answer  # type: ignore[attr-defined]
        for route in api.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and getattr(route, "doc", None) is not None
        if route.doc.tag == "memory"  # type: ignore[attr-defined]
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert declared == ANSWERS
    spec = api.get("/api/openapi.json").json()
    post = spec["paths"]["/api/memory"]["post"]["responses"]
    assert post["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/AddFactAnswer")
    assert {"200", "409"} <= set(post)
    assert "503" in spec["paths"]["/api/memory/search"]["get"]["responses"]


def test_answers_events_and_recollection_in_the_agent(api: TestClient) -> None:
    spec = api.get("/api/openapi.json").json()
    added = api.post("/api/memory", json={"text": "My editor is vim", "key": "user.editor"})
    assert added.status_code == 201, added.text
    again = api.post("/api/memory", json={"text": "My editor is vim"})
    assert again.status_code == 200
    newer = api.post("/api/memory", json={"text": "My editor is helix", "key": "user.editor"})
    for response in (added, again, newer):
        exact(AddFactAnswer, response.json())
        assert_created_schema(spec, response.json())
    checks = [
        ("GET", "/api/memory", api.get("/api/memory?include_superseded=true")),
        ("GET", "/api/memory/search", api.get("/api/memory/search?q=which+editor&k=1")),
    ]
    for method, path, response in checks:
        assert response.status_code == 200, response.text
        assert_matches(spec, method, path, response.json())
        exact(ANSWERS[(method, path)], response.json())
    hit = checks[1][2].json()["hits"][0]["fact"]
    assert hit["text"] == "My editor is helix"

    memory: Recollection = api.app.state.ctx.memory  # type: ignore[attr-defined]
    assert memory is api.app.state.subsystems["memory"].service  # type: ignore[attr-defined]
    portal = api.portal
    assert portal is not None
    recalled = portal.call(partial(memory.recall, "which editor", k=1))
    assert [r.text for r in recalled] == ["My editor is helix"]
    claims = [FactClaim("I live in Lisbon", tags=("home",))]
    done = portal.call(partial(memory.remember, claims, source="chat", session_id="s-1"))
    assert done[0].outcome == "created"
    chat_fact = api.get("/api/memory").json()["facts"][0]
    assert (chat_fact["source"], chat_fact["session_id"]) == ("chat", "s-1")

    removed = api.delete(f"/api/memory/{chat_fact['id']}")
    assert_matches(spec, "DELETE", "/api/memory/{fact_id}", removed.json())
    cleared = api.delete("/api/memory?confirm=true")
    assert cleared.json() == {"removed": 2}
    assert_matches(spec, "DELETE", "/api/memory", cleared.json())

    by_name = {t.name: t for t in events.TOPICS}
    assert set(by_name) <= {t.name for t in all_topics()}
    published = api.app.state.bus.recent(["memory"], limit=100)  # type: ignore[attr-defined]
    assert [e.topic for e in published] == [
        "memory.fact.added",
        "memory.fact.added",
        "memory.fact.superseded",
        "memory.fact.added",
        "memory.fact.removed",
        "memory.cleared",
    ]
    for event in published:
        exact(by_name[event.topic].payload, event.data)
