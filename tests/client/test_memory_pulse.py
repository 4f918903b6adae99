"""The SDK's memory and pulse calls against one real agent (the real embedding model for
search, a Pulse rule every machine trips for a card), and the exact requests each call sends
(httpx MockTransport).

The agent is shared by the module: memory tests work on facts of their own (by id or key);
the one that clears everything runs last.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from agent.client import AgentClient, ApiError
from agent.memory.models import AddFactAnswer, FactList
from agent.pulse.models import InsightList
from tests.harness import AgentProcess, agent_process, call, wait_until
from tests.pulse_rules import ALWAYS_RULE, always_rules

# Generous: the first search loads the embedding model, slow on a busy machine.
pytestmark = pytest.mark.timeout(240)
INSIGHT_WAIT_S = 60
NAME = "pantry"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("memory-pulse-sdk")
    env = {"OPENFABRIC_PULSE_INTERVAL": "0.2", "OPENFABRIC_PULSE_RULES": str(always_rules(root))}
    with agent_process(root / "agent-home", "--node-name", NAME, env=env) as started:
        yield started


@pytest.fixture
async def client(agent: AgentProcess) -> AsyncIterator[AgentClient]:
    async with AgentClient(agent.url, agent.token) as sdk:
        yield sdk


def active_ids(listing: FactList) -> set[str]:
    return {fact.id for fact in listing.facts if fact.superseded_by is None}


# --- memory --------------------------------------------------------------------------------


async def test_add_is_idempotent_and_listed(client: AgentClient, agent: AgentProcess) -> None:
    added = await client.memory_add("The greenhouse key hangs by the back door", tags=["home"])
    assert isinstance(added, AddFactAnswer)
    assert (added.outcome, added.superseded) == ("created", [])
    fact = added.fact
    assert (fact.text, fact.key, fact.tags, fact.source) == (
        "The greenhouse key hangs by the back door",
        None,
        ["home"],
        "manual",
    )
    assert fact.node_id == agent.info["node_id"]
    assert fact.superseded_by is None
    again = await client.memory_add("the greenhouse key hangs by the back door.")
    assert (again.outcome, again.fact.id) == ("existing", fact.id)
    listing = await client.memory_list()
    assert [f.id for f in listing.facts].count(fact.id) == 1
    assert listing.count == len(listing.facts)


async def test_a_key_supersedes_and_history_keeps_the_old(client: AgentClient) -> None:
    old = (await client.memory_add("My editor is vim", key="user.editor")).fact
    new = await client.memory_add("My editor is emacs", key="user.editor")
    assert (new.outcome, new.superseded) == ("superseded", [old.id])
    active = await client.memory_list()
    assert new.fact.id in active_ids(active)
    assert old.id not in {f.id for f in active.facts}
    history = {f.id: f for f in (await client.memory_list(include_superseded=True)).facts}
    assert history[old.id].superseded_by == new.fact.id
    assert history[old.id].superseded_at is not None
    assert history[new.fact.id].superseded_by is None


async def test_search_finds_by_meaning(client: AgentClient) -> None:
    wanted = (await client.memory_add("Our cat Miso only eats salmon", tags=["pets"])).fact
    await client.memory_add("The boiler is serviced every October")
    found = await client.memory_search("what food does the kitten like", k=2)
    assert found.query == "what food does the kitten like"
    assert found.count == len(found.hits) <= 2
    assert found.hits[0].fact.id == wanted.id
    scores = [hit.score for hit in found.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1 <= s <= 1 for s in scores)


async def test_remove_then_remove_again(client: AgentClient) -> None:
    fact = (await client.memory_add("The spare fuse is in the red box")).fact
    removed = await client.memory_remove(fact.id)
    assert (removed.id, removed.removed) == (fact.id, True)
    assert fact.id not in {f.id for f in (await client.memory_list(include_superseded=True)).facts}
    with pytest.raises(ApiError) as caught:
        await client.memory_remove(fact.id)
    assert (caught.value.status, caught.value.code) == (404, "FACT_NOT_FOUND")


@pytest.mark.parametrize(
    ("text", "key", "tags"),
    [("", None, ()), ("x" * 2001, None, ()), ("ok", "not a key!", ()), ("ok", None, ["t"] * 17)],
)
async def test_bad_facts_are_refused(
    client: AgentClient, text: str, key: str | None, tags: tuple[str, ...]
) -> None:
    before = await client.memory_list(include_superseded=True)
    with pytest.raises(ApiError) as caught:
        await client.memory_add(text, key=key, tags=tags)
    assert (caught.value.status, caught.value.code) == (400, "VALIDATION_ERROR")
    assert await client.memory_list(include_superseded=True) == before


@pytest.mark.parametrize(("q", "k"), [("", 10), ("cats", 0), ("cats", 51)])
async def test_bad_searches_are_refused(client: AgentClient, q: str, k: int) -> None:
    with pytest.raises(ApiError) as caught:
        await client.memory_search(q, k=k)
    assert (caught.value.status, caught.value.code) == (400, "VALIDATION_ERROR")


async def test_clear_removes_everything_and_needs_the_confirmation(
    client: AgentClient, agent: AgentProcess
) -> None:
    await client.memory_add("The attic ladder sticks in winter", key="house.attic")
    await client.memory_add("The attic ladder was oiled", key="house.attic")
    total = len((await client.memory_list(include_superseded=True)).facts)
    refused = call(agent, "DELETE", "/api/memory")
    assert (refused.status_code, refused.json()["error_code"]) == (400, "CONFIRMATION_REQUIRED")
    assert len((await client.memory_list(include_superseded=True)).facts) == total
    cleared = await client.memory_clear()
    assert cleared.removed == total >= 2
    assert (await client.memory_list(include_superseded=True)).facts == []


# --- pulse ---------------------------------------------------------------------------------


def raised(agent: AgentProcess) -> dict[str, Any] | None:
    body = call(agent, "GET", "/api/pulse/insights", params={"include_dismissed": "true"}).json()
    return next((c for c in body["insights"] if c["rule"] == ALWAYS_RULE), None)


@pytest.fixture(scope="module")
def card(agent: AgentProcess) -> dict[str, Any]:
    """The card of the rule every machine trips, once Pulse has raised it."""
    found: dict[str, Any] = wait_until(lambda: raised(agent), INSIGHT_WAIT_S, "the pulse card")
    return found


async def test_insights_show_the_raised_card(
    client: AgentClient, agent: AgentProcess, card: dict[str, Any]
) -> None:
    listing = await client.pulse_insights()
    assert isinstance(listing, InsightList)
    (insight,) = [c for c in listing.insights if c.rule == ALWAYS_RULE]
    assert insight.id == card["id"]
    assert insight.node_id == agent.info["node_id"]
    assert (insight.severity, insight.title) == ("critical", "Memory in use")
    assert insight.what.startswith(f"{NAME} has ")
    assert insight.action == f"Nothing to do on {NAME}: dismiss the card."
    assert insight.value is not None
    assert insight.value > 0
    assert not insight.dismissed
    assert listing.evaluator == agent.info["node_id"]
    assert listing.count == len(listing.insights)


async def test_history_of_one_rule(client: AgentClient, card: dict[str, Any]) -> None:
    history = await client.pulse_history(rule=ALWAYS_RULE, limit=5)
    assert history.evaluations
    assert len(history.evaluations) <= 5
    assert {e.rule for e in history.evaluations} == {ALWAYS_RULE}
    assert any(c.insight_id == card["id"] and c.to_status != "ok" for c in history.changes)
    assert [e.at for e in history.evaluations] == sorted(
        (e.at for e in history.evaluations), reverse=True
    )
    assert (await client.pulse_history(rule="no-such-rule")).evaluations == []


@pytest.mark.parametrize("limit", [0, 1001])
async def test_history_limit_is_bounded(client: AgentClient, limit: int) -> None:
    with pytest.raises(ApiError) as caught:
        await client.pulse_history(limit=limit)
    assert (caught.value.status, caught.value.code) == (400, "VALIDATION_ERROR")


async def test_weekly_digest_counts_this_node(client: AgentClient, agent: AgentProcess) -> None:
    digest = await client.pulse_weekly()
    assert digest.until - digest.since == pytest.approx(7 * 86400, abs=5)
    assert [u.node_id for u in digest.uptime] == [agent.info["node_id"]]
    assert 0 < digest.uptime[0].uptime_percent <= 100
    assert digest.missing == []


async def test_dismiss_hides_the_card_until_it_comes_back(
    client: AgentClient, card: dict[str, Any]
) -> None:
    dismissed = await client.pulse_dismiss(card["id"])
    assert (dismissed.id, dismissed.dismissed) == (card["id"], True)
    assert card["id"] not in {c.id for c in (await client.pulse_insights()).insights}
    shown = (await client.pulse_insights(include_dismissed=True)).insights
    assert [c.dismissed for c in shown if c.id == card["id"]] == [True]
    with pytest.raises(ApiError) as caught:
        await client.pulse_dismiss("no-such-rule:" + "0" * 64)
    assert (caught.value.status, caught.value.code) == (404, "INSIGHT_NOT_FOUND")


# --- the requests each call sends ----------------------------------------------------------


class Recorder:
    """A MockTransport agent answering `answer` to every request, and remembering them."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def client(self) -> AgentClient:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(200, json=self.answer)

        return AgentClient("http://agent.test", "secret", transport=httpx.MockTransport(handle))

    def sent(self) -> tuple[str, str, dict[str, str], Any]:
        request = self.requests[-1]
        body = json.loads(request.content) if request.content else None
        return request.method, request.url.path, dict(request.url.params), body


FACT: dict[str, Any] = {
    "id": "a" * 32, "text": "t", "key": None, "tags": [], "source": "manual",
    "session_id": None, "node_id": "n" * 64, "created_at": 1.0, "superseded_by": None,
    "superseded_at": None,
}  # fmt: skip


async def test_memory_calls_send_what_the_routes_take() -> None:
    listing = Recorder({"facts": [FACT], "count": 1})
    async with listing.client() as client:
        await client.memory_list()
        assert listing.sent() == ("GET", "/api/memory", {}, None)
        await client.memory_list(include_superseded=True)
        assert listing.sent() == ("GET", "/api/memory", {"include_superseded": "true"}, None)
    adding = Recorder({"fact": FACT, "outcome": "created", "superseded": []})
    async with adding.client() as client:
        await client.memory_add("t")
        assert adding.sent() == ("POST", "/api/memory", {}, {"text": "t", "tags": []})
        await client.memory_add("t", key="k.x", tags=("a", "b"))
        assert adding.sent()[3] == {"text": "t", "key": "k.x", "tags": ["a", "b"]}
    removing = Recorder({"id": "a/b", "removed": True})
    async with removing.client() as client:
        await client.memory_remove("a/b")
        assert removing.requests[-1].url.raw_path == b"/api/memory/a%2Fb"
    clearing = Recorder({"removed": 3})
    async with clearing.client() as client:
        assert (await client.memory_clear()).removed == 3
        assert clearing.sent() == ("DELETE", "/api/memory", {"confirm": "true"}, None)
    searching = Recorder({"query": "q", "hits": [{"fact": FACT, "score": 0.5}], "count": 1})
    async with searching.client() as client:
        await client.memory_search("q w", k=3)
        assert searching.sent() == ("GET", "/api/memory/search", {"q": "q w", "k": "3"}, None)


async def test_pulse_calls_send_what_the_routes_take() -> None:
    history = Recorder({"evaluations": [], "changes": [], "count": 0})
    async with history.client() as client:
        await client.pulse_history()
        assert history.sent() == ("GET", "/api/pulse/history", {"limit": "200"}, None)
        await client.pulse_history(rule="disk", node="n1", limit=5)
        assert history.sent()[2] == {"rule": "disk", "node": "n1", "limit": "5"}
    insights = Recorder({"insights": [], "count": 0, "evaluator": None})
    async with insights.client() as client:
        await client.pulse_insights(include_dismissed=True)
        assert insights.sent() == (
            "GET", "/api/pulse/insights", {"include_dismissed": "true"}, None
        )  # fmt: skip


async def test_an_answer_of_another_shape_is_an_invalid_response() -> None:
    async with Recorder({"facts": "none"}).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.memory_list()
    assert caught.value.code == "INVALID_RESPONSE"
    async with Recorder({"insights": [{"id": 1}]}).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.pulse_insights()
    assert caught.value.code == "INVALID_RESPONSE"
