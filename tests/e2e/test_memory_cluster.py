"""Facts across three real agents: a fact added, superseded, deleted or cleared on any member
is seen on every online member within seconds (pushed at once; the design's goal is 2 s, the
assertions leave slack for a loaded machine), is searchable there once embedded, and a member
that was down catches up when it comes back."""

from __future__ import annotations

import contextlib
from functools import partial
from pathlib import Path
from typing import Any

from tests.harness import (
    AgentProcess,
    agent_process,
    agent_processes,
    call,
    form_cluster,
    replay_events,
    wait_until,
)

SPREAD_S = 10.0
# The first encode on a member loads the model (seconds, more on a busy machine).
EMBED_S = 120.0


def add(agent: AgentProcess, text: str, key: str | None = None) -> dict[str, Any]:
    # A member's first fact loads its embedding model, which takes a while on a busy machine.
    body = {"text": text, "key": key}
    response = call(agent, "POST", "/api/memory", json=body, timeout=EMBED_S)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def facts(agent: AgentProcess, history: bool = False) -> dict[str, dict[str, Any]]:
    query = "?include_superseded=true" if history else ""
    response = call(agent, "GET", f"/api/memory{query}")
    assert response.status_code == 200, response.text
    return {f["id"]: f for f in response.json()["facts"]}


def texts(agent: AgentProcess) -> set[str]:
    return {f["text"] for f in facts(agent).values()}


def everywhere(agents: list[AgentProcess], wanted: set[str], what: str) -> None:
    for agent in agents:
        wait_until(partial(has_texts, agent, wanted), SPREAD_S, f"{what} on {agent.home.name}")


def has_texts(agent: AgentProcess, wanted: set[str]) -> bool:
    return texts(agent) == wanted


def finds(agent: AgentProcess, query: str, fact_id: str) -> bool:
    answer = call(agent, "GET", "/api/memory/search", params={"q": query, "k": 1})
    hits = answer.json()["hits"] if answer.status_code == 200 else []
    return bool(hits) and hits[0]["fact"]["id"] == fact_id


def test_changes_on_any_member_reach_every_member(trio: list[AgentProcess]) -> None:
    first, second, third = trio
    vim = add(first, "My editor is vim", key="user.editor")["fact"]
    everywhere(trio, {"My editor is vim"}, "the new fact")
    lisbon = add(second, "I live in Lisbon")["fact"]
    everywhere(trio, {"My editor is vim", "I live in Lisbon"}, "the second fact")

    helix = add(third, "My editor is helix", key="user.editor")
    assert helix["outcome"] == "superseded"
    assert helix["superseded"] == [vim["id"]]
    everywhere(trio, {"My editor is helix", "I live in Lisbon"}, "the supersession")
    for agent in trio:
        old = facts(agent, history=True)[vim["id"]]
        assert old["superseded_by"] == helix["fact"]["id"]
    # The same fact added on another member is that fact: nothing piles up.
    again = add(first, "my editor is helix!")
    assert (again["outcome"], again["fact"]["id"]) == ("existing", helix["fact"]["id"])

    for agent in trio:
        wait_until(
            partial(finds, agent, "where do I live", lisbon["id"]),
            EMBED_S,
            f"the replicated fact searchable on {agent.home.name}",
        )

    assert call(second, "DELETE", f"/api/memory/{lisbon['id']}").status_code == 200
    everywhere(trio, {"My editor is helix"}, "the delete")
    topics = [t for t, e in replay_events(third, "memory") if e.get("id") == lisbon["id"]]
    assert topics == ["memory.fact.removed"]

    cleared = call(third, "DELETE", "/api/memory", params={"confirm": "true"})
    assert cleared.status_code == 200
    assert cleared.json()["removed"] == 2
    everywhere(trio, set(), "the clear")
    for agent in trio:
        assert facts(agent, history=True) == {}
    assert ("memory.cleared", {"removed": 2}) in replay_events(first, "memory.cleared")


def test_a_member_that_was_down_catches_up(tmp_path: Path) -> None:
    homes = [tmp_path / f"node{i}" for i in range(3)]
    with agent_processes(homes) as agents, contextlib.ExitStack() as restarts:
        form_cluster(agents)
        writer, back, witness = agents
        paris = add(writer, "I live in Paris", key="user.home")["fact"]
        doomed = add(witness, "My cat is called Tom")["fact"]
        everywhere(agents, {"I live in Paris", "My cat is called Tom"}, "the first facts")

        back.stop()
        berlin = add(writer, "I live in Berlin", key="user.home")["fact"]
        assert call(witness, "DELETE", f"/api/memory/{doomed['id']}").status_code == 200
        add(witness, "My shell is zsh")

        back = restarts.enter_context(agent_process(back.home))
        wanted = {"I live in Berlin", "My shell is zsh"}
        everywhere([back, writer, witness], wanted, "the changes made while it was down")
        history = facts(back, history=True)
        assert history[paris["id"]]["superseded_by"] == berlin["id"]
        assert doomed["id"] not in history
