"""The memory routes: statuses, answers (checked against their published schemas) and bad
input, which changes nothing."""

from __future__ import annotations

import pytest

from tests.memory.kit import Node


async def test_add_list_supersede_delete(node: Node) -> None:
    async with node.client() as api:
        created = await api.post("/api/memory", json={"text": "My editor is vim", "key": "editor"})
        assert created.status_code == 201, created.text
        assert created.json()["outcome"] == "created"
        old = created.json()["fact"]
        assert (old["source"], old["node_id"], old["superseded_by"]) == ("manual", "nodeself", None)

        again = await api.post("/api/memory", json={"text": "my editor is vim!"})
        assert again.status_code == 200
        assert again.json() == {"fact": old, "outcome": "existing", "superseded": []}

        newer = await api.post(
            "/api/memory", json={"text": "My editor is emacs", "key": "editor", "tags": ["tools"]}
        )
        assert newer.status_code == 201
        assert newer.json()["outcome"] == "superseded"
        assert newer.json()["superseded"] == [old["id"]]
        other = await api.post("/api/memory", json={"text": "I live in Lisbon"})

        listed = (await api.get("/api/memory")).json()
        assert [f["text"] for f in listed["facts"]] == ["I live in Lisbon", "My editor is emacs"]
        assert listed["count"] == 2
        history = (await api.get("/api/memory?include_superseded=true")).json()
        assert [f["id"] for f in history["facts"]] == [
            other.json()["fact"]["id"],
            newer.json()["fact"]["id"],
            old["id"],
        ]
        assert history["facts"][2]["superseded_by"] == newer.json()["fact"]["id"]

        gone = await api.delete(f"/api/memory/{old['id']}")
        assert gone.status_code == 200
        assert gone.json() == {"id": old["id"], "removed": True}
        for unknown in (old["id"], "0" * 32, "nope"):
            missing = await api.delete(f"/api/memory/{unknown}")
            assert missing.status_code == 404
            assert missing.json()["error_code"] == "FACT_NOT_FOUND"


async def test_clear_needs_confirmation(node: Node) -> None:
    async with node.client() as api:
        await api.post("/api/memory", json={"text": "I live in Lisbon"})
        for query in ("", "?confirm=false", "?confirm=yes", "?confirm=TRUE"):
            refused = await api.delete(f"/api/memory{query}")
            assert refused.status_code == 400, query
            assert refused.json()["error_code"] == "CONFIRMATION_REQUIRED"
        assert (await api.get("/api/memory")).json()["count"] == 1
        unknown = await api.delete("/api/memory?confirm=true&all=1")
        assert unknown.status_code == 400
        cleared = await api.delete("/api/memory?confirm=true")
        assert cleared.status_code == 200
        assert cleared.json() == {"removed": 1}
        assert (await api.get("/api/memory?include_superseded=true")).json()["count"] == 0


async def test_search(node: Node) -> None:
    async with node.client() as api:
        for text in ("My editor is vim", "I live in Lisbon", "My cat is called Tom"):
            await api.post("/api/memory", json={"text": text})
        found = await api.get("/api/memory/search", params={"q": "what is my pet's name", "k": 2})
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["query"] == "what is my pet's name"
        assert body["count"] == 2
        assert body["hits"][0]["fact"]["text"] == "My cat is called Tom"
        assert -1 <= body["hits"][1]["score"] <= body["hits"][0]["score"] <= 1
        default = (await api.get("/api/memory/search", params={"q": "editor"})).json()
        assert default["count"] == 3
        for params in (
            {},
            {"q": ""},
            {"q": "   "},
            {"q": "x" * 2001},
            {"q": "editor", "k": "0"},
            {"q": "editor", "k": "51"},
            {"q": "editor", "k": "ten"},
            {"q": "editor", "mode": "vector"},
        ):
            refused = await api.get("/api/memory/search", params=params)
            assert refused.status_code == 400, params
            assert refused.json()["error_code"] == "VALIDATION_ERROR"


async def test_search_without_an_encoder_is_503(bare: Node) -> None:
    async with bare.client() as api:
        assert (await api.post("/api/memory", json={"text": "I live in Lisbon"})).status_code == 201
        answer = await api.get("/api/memory/search", params={"q": "home"})
        assert answer.status_code == 503
        assert answer.json()["error_code"] == "MEMORY_UNAVAILABLE"
        assert "openfabric[brain]" in answer.json()["error"]
        assert (await api.get("/api/memory/search", params={"q": ""})).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"text": 5}',
        b'{"text": null}',
        b'{"text": ""}',
        b'{"text": "   "}',
        b'{"text": "' + b"x" * 2001 + b'"}',
        b'{"text": "ok", "key": "has space"}',
        b'{"text": "ok", "key": "-leading"}',
        b'{"text": "ok", "key": 7}',
        b'{"text": "ok", "tags": "one"}',
        b'{"text": "ok", "tags": [1]}',
        b'{"text": "ok", "tags": ["' + b"t" * 65 + b'"]}',
        b'{"text": "ok", "tags": [' + b",".join(b'"t%d"' % i for i in range(17)) + b"]}",
        b'{"text": "ok", "replaces": ["' + b"0" * 32 + b'"]}',
        b'{"text": "ok", "source": "chat"}',
        b'{"text": "lone \\ud800"}',
        b'{"text": NaN}',
    ],
)
async def test_bad_input_is_400_and_stores_nothing(node: Node, body: bytes) -> None:
    async with node.client() as api:
        answer = await api.post(
            "/api/memory", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] in ("VALIDATION_ERROR", "INVALID_JSON")
        assert (await api.get("/api/memory?include_superseded=true")).json()["count"] == 0
    assert await node.all_versions() == []


async def test_oversized_and_mistyped_bodies(node: Node) -> None:
    async with node.client() as api:
        huge = await api.post(
            "/api/memory",
            content=b'{"text": "' + b"x" * 2_000_000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413
        form = await api.post(
            "/api/memory", content=b"text=hi", headers={"content-type": "text/plain"}
        )
        assert form.status_code == 415
        bad_flag = await api.get("/api/memory?include_superseded=maybe")
        assert bad_flag.status_code == 400


async def test_a_full_memory_is_409(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.memory.service.MAX_FACTS", 1)
    async with node.client() as api:
        assert (await api.post("/api/memory", json={"text": "one fact"})).status_code == 201
        full = await api.post("/api/memory", json={"text": "another fact"})
        assert full.status_code == 409
        assert full.json()["error_code"] == "MEMORY_FULL"
        assert full.json()["details"] == {"limit": 1}
        assert (await api.post("/api/memory", json={"text": "One fact."})).status_code == 200
