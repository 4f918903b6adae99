"""One real agent watching a folder, with the real model: what is written, changed, moved
and deleted reaches the index on its own; skipped files are counted by reason; forgetting a
content hash removes it; reindexing streams progress; and bad input changes nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.brain.live import events_about, found, gone, paths, search, settled, status
from tests.harness import AgentProcess, agent_process, call

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs")
    (root / "garden.md").write_text(
        "# Garden\n\n## Tomatoes\n\nTomatoes need full sun and deep watering twice a week.\n\n"
        "## Basil\n\nBasil grows well beside tomatoes.\n"
    )
    (root / "work").mkdir()
    (root / "work" / "meeting.txt").write_text(
        "The quarterly budget review is on Thursday at the Lisbon office.\n"
    )
    return root


@pytest.fixture(scope="module")
def agent(docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home = tmp_path_factory.mktemp("brain") / "home"
    env = {"OPENFABRIC_BRAIN_PATHS": str(docs)}
    with agent_process(home, "--brain-max-file-bytes", "20000", env=env) as running:
        settled(running)
        yield running


def test_the_sources_are_indexed_at_start_and_found_by_meaning(
    agent: AgentProcess, docs: Path
) -> None:
    now = status(agent)
    assert now["available"]
    assert (now["model"], now["dimensions"]) == ("all-MiniLM-L6-v2", 384)
    assert now["sources"] == [
        {"path": str(docs), "exists": True, "files": now["files"], "chunks": now["chunks"]}
    ]
    answer = search(agent, "when do we go over the money plans", mode="vector", k=3)
    top = answer["hits"][0]
    assert top["path"] == str(docs / "work" / "meeting.txt")
    assert (top["start_line"], top["end_line"]) == (1, 1)
    assert (answer["searched"], answer["not_searched"]) == ([now["node_id"]], [])
    headed = search(agent, "basil", mode="lexical", k=1)["hits"][0]
    assert headed["heading"] == ["Garden", "Basil"]


def test_create_modify_move_and_delete_reach_the_index(agent: AgentProcess, docs: Path) -> None:
    note = docs / "lighthouse.md"
    note.write_text("The lighthouse keeper polished the brass lamp every evening.\n")
    found(agent, note, "who cleans the lamp in the tower", "vector")

    note.write_text("The baker kneaded sourdough before dawn.\n")
    found(agent, note, "making bread early in the morning", "vector")
    gone(agent, note, "lighthouse keeper brass lamp", "lexical")

    moved = docs / "work" / "bakery.md"
    note.rename(moved)
    found(agent, moved, "sourdough", "lexical")
    gone(agent, note, "sourdough", "lexical")
    indexed = events_about(agent, "brain.indexed", moved)
    # The moved file's chunk was embedded before: its vector is reused, nothing is encoded.
    assert (indexed[-1]["embedded"], indexed[-1]["reused"]) == (0, 1)

    moved.unlink()
    gone(agent, moved, "sourdough", "lexical")
    gone(agent, moved, "making bread early in the morning", "vector")
    removed = events_about(agent, "brain.removed", moved)
    assert [e["why"] for e in removed] == ["deleted"]
    assert settled(agent)["vectors"] == status(agent)["chunks"]


def test_a_folder_moved_in_and_deleted(agent: AgentProcess, docs: Path, tmp_path: Path) -> None:
    outside = tmp_path / "trip"
    outside.mkdir()
    (outside / "packing.md").write_text("Pack the snorkel and the reef-safe sunscreen.\n")
    os.rename(outside, docs / "trip")
    found(agent, docs / "trip" / "packing.md", "snorkel", "lexical")
    (docs / "trip" / "packing.md").unlink()
    (docs / "trip").rmdir()
    gone(agent, docs / "trip" / "packing.md", "snorkel", "lexical")


def test_files_that_cannot_be_indexed_are_skipped_with_the_reason(
    agent: AgentProcess, docs: Path
) -> None:
    (docs / "photo.bin").write_bytes(b"\x89PNG\x00\x01")
    (docs / "nul.txt").write_bytes(b"text\x00with a NUL")
    (docs / "big.txt").write_text("word " * 5000)  # over --brain-max-file-bytes
    (docs / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))

    def reasons() -> dict[str, str]:
        listed = status(agent)["skipped_files"]
        return {Path(s["path"]).name: s["reason"] for s in listed}

    from tests.harness import wait_until

    wait_until(lambda: len(reasons()) >= 4, 30, "four files to be skipped")
    assert reasons() == {
        "photo.bin": "unsupported",
        "nul.txt": "binary",
        "big.txt": "too_large",
        "latin1.txt": "unreadable",
    }
    assert status(agent)["skipped"] == {
        "binary": 1,
        "too_large": 1,
        "unsupported": 1,
        "unreadable": 1,
    }
    for name in ("photo.bin", "nul.txt", "big.txt", "latin1.txt"):
        (docs / name).unlink()
    wait_until(lambda: not reasons(), 30, "the skipped files to be forgotten once deleted")


def test_forgetting_a_content_hash(agent: AgentProcess, docs: Path) -> None:
    recipe = docs / "recipe.md"
    recipe.write_text("Saffron risotto needs patience and warm stock.\n")
    found(agent, recipe, "saffron", "lexical")
    content_hash = search(agent, "saffron", mode="lexical", k=1)["hits"][0]["content_hash"]
    response = call(agent, "DELETE", f"/api/brain/index/{content_hash}")
    assert response.status_code == 200, response.text
    assert response.json() == {"content_hash": content_hash, "paths": [str(recipe)], "chunks": 1}
    assert str(recipe) not in paths(search(agent, "saffron", mode="lexical"))
    # It stays forgotten through a rescan, and comes back when the file changes.
    list(reindex(agent, {"paths": [str(recipe)]}))
    assert str(recipe) not in paths(search(agent, "saffron", mode="lexical"))
    recipe.write_text("Saffron risotto needs patience, warm stock and parmesan.\n")
    found(agent, recipe, "saffron", "lexical")
    again = call(agent, "DELETE", f"/api/brain/index/{content_hash}")
    assert (again.status_code, again.json()["error_code"]) == (404, "HASH_NOT_FOUND")


def reindex(
    agent: AgentProcess, body: dict[str, object]
) -> Iterator[tuple[str, dict[str, object]]]:
    with httpx.stream(
        "POST", agent.url + "/api/brain/reindex", json=body, headers=agent.headers(), timeout=120
    ) as response:
        assert response.status_code == 200, response.read()
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind is not None:
                yield kind, json.loads(line[6:])


def test_reindex_streams_progress_and_sources_can_be_replaced(
    agent: AgentProcess, docs: Path, tmp_path: Path
) -> None:
    events = list(reindex(agent, {}))
    assert (events[-1][0], events[-1][1]["done"]) == ("done", True)
    final = events[-1][1]
    assert final["files_seen"] == final["files_done"] == status(agent)["files"]
    assert final["chunks_embedded"] == 0  # nothing changed: nothing encoded

    extra = tmp_path / "papers"
    extra.mkdir()
    (extra / "owls.md").write_text("Barn owls hunt voles over meadows at night.\n")
    events = list(reindex(agent, {"sources": [str(docs), str(extra)]}))
    assert events[-1][1]["chunks_embedded"] == 1
    assert str(extra / "owls.md") in paths(search(agent, "owls", mode="lexical"))
    assert [s["path"] for s in status(agent)["sources"]] == [str(docs), str(extra)]

    list(reindex(agent, {"sources": [str(docs)]}))
    gone(agent, extra / "owls.md", "owls", "lexical")
    assert [s["path"] for s in status(agent)["sources"]] == [str(docs)]


S, R, V = "/api/brain/search", "/api/brain/reindex", "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status_code", "code"),
    [
        ("GET", S, {"params": {"q": ""}}, 400, V),
        ("GET", S, {"params": {"q": "   "}}, 400, V),
        ("GET", S, {}, 400, V),
        ("GET", S, {"params": {"q": "a", "k": "0"}}, 400, V),
        ("GET", S, {"params": {"q": "a", "k": "51"}}, 400, V),
        ("GET", S, {"params": {"q": "a", "k": "x"}}, 400, V),
        ("GET", S, {"params": {"q": "a", "mode": "fuzzy"}}, 400, V),
        ("GET", S, {"params": {"q": "a", "node": "nobody"}}, 404, "NODE_NOT_FOUND"),
        ("GET", S, {"params": {"q": "a", "color": "red"}}, 400, V),
        ("DELETE", "/api/brain/index/" + "0" * 64, {}, 404, "HASH_NOT_FOUND"),
        ("DELETE", "/api/brain/index/not-a-hash", {}, 400, "INVALID_HASH"),
        ("POST", R, {"json": {"paths": ["/etc"]}}, 400, "PATH_OUTSIDE_SOURCES"),
        ("POST", R, {"json": {"paths": ["relative/x"]}}, 400, "INVALID_PATH"),
        ("POST", R, {"json": {"sources": ["/no/such/dir"]}}, 400, "SOURCE_NOT_FOUND"),
        ("POST", R, {"json": {"sources": "/tmp"}}, 400, V),
        ("POST", R, {"json": {"paths": [""]}}, 400, V),
        ("POST", R, {"json": {"paths": ["/a"] * 65}}, 400, V),
        ("POST", R, {"json": {"colour": 1}}, 400, V),
        ("POST", R, {"content": b"{not json"}, 400, "INVALID_JSON"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(
    agent: AgentProcess,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status_code: int,
    code: str,
) -> None:
    before = status(agent)
    response = call(agent, method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status_code, response.text
    assert response.json()["error_code"] == code
    after = status(agent)
    assert (after["sources"], after["files"], after["chunks"]) == (
        before["sources"],
        before["files"],
        before["chunks"],
    )


def test_the_agents_own_data_is_never_indexed(agent: AgentProcess, docs: Path) -> None:
    inside = call(agent, "POST", "/api/brain/reindex", json={"sources": [str(agent.home)]})
    assert inside.status_code == 400
    assert inside.json()["error_code"] == "INVALID_PATH"
    # A source above the home walks past it: agent.json, the token and the keys stay out.
    around = agent.home.parent
    done = list(reindex(agent, {"sources": [str(docs), str(around)]}))[-1][1]
    assert done["done"] is True
    listed = [s["path"] for s in status(agent)["skipped_files"]]
    hits = paths(search(agent, "node_id url token peer_port", mode="lexical", k=50))
    assert [p for p in listed + hits if p.startswith(str(agent.home))] == []
    list(reindex(agent, {"sources": [str(docs)]}))
