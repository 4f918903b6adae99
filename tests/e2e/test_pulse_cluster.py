"""Pulse across three real agents: one evaluator for the cluster. The evaluator stops: the
next one raises exactly one node-offline card, listed identically on both survivors and
raised once on each bus; a dismissal on the member that does not evaluate holds on both; the
card clears, once on each bus, when the node returns. Tables pushed by a node that is not the
evaluator, or malformed, change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from agent.peer.identity import load_or_create_identity
from agent.pulse.rulepack import load_rules
from tests.harness import (
    AgentProcess,
    agent_process,
    call,
    form_cluster,
    replay_events,
    signed_peer_post,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
FAST = ("--heartbeat-interval", "0.2", "--suspect-after", "1", "--offline-after", "2")
OFFLINE = "node_offline"


def rules_file(path: Path) -> Path:
    """Only the offline rule, quick: nothing this machine's own state could raise."""
    others = [r.id for r in load_rules() if r.id != OFFLINE]
    lines = ["rules:", f"  - id: {OFFLINE}", "    for: 1", "    clear_after: 0"]
    lines += [f"  - {{id: {rule_id}, enabled: false}}" for rule_id in others]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Trio:
    agents: list[AgentProcess]
    args: tuple[str, ...]

    def by_id(self) -> list[AgentProcess]:
        return sorted(self.agents, key=lambda a: a.info["node_id"])


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trio]:
    root = tmp_path_factory.mktemp("pulse")
    rules = rules_file(root / "rules.yaml")
    args = (*FAST, "--pulse-interval", "0.3", "--pulse-rules", str(rules))
    with ExitStack() as stack:
        agents = [stack.enter_context(agent_process(root / f"n{i}", *args)) for i in range(3)]
        form_cluster(agents)
        yield Trio(agents, args)


def listing(agent: AgentProcess, dismissed: bool = False) -> dict[str, Any]:
    query = "?include_dismissed=true" if dismissed else ""
    response = call(agent, "GET", "/api/pulse/insights" + query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    ids = [c["id"] for c in body["insights"]]
    assert len(ids) == len(set(ids)), f"a card twice: {ids}"
    return body


def ids(agent: AgentProcess, dismissed: bool = False) -> list[str]:
    return [c["id"] for c in listing(agent, dismissed)["insights"]]


def pulse_events(agent: AgentProcess, key: str) -> list[str]:
    return [t for t, data in replay_events(agent, "pulse.insight") if data.get("id") == key]


def push(target: AgentProcess, sender: AgentProcess, body: bytes) -> httpx.Response:
    identity = load_or_create_identity(sender.home)
    return signed_peer_post(target, identity, "/peer/pulse/insights", body)


def forged_card(node_id: str) -> dict[str, Any]:
    return {
        "id": f"{OFFLINE}:{node_id}",
        "rule": OFFLINE,
        "severity": "critical",
        "title": "forged",
        "what": "w",
        "why": "y",
        "action": "a",
        "since": 1.0,
        "updated_at": 1.0,
        "node_id": node_id,
        "node_name": "x",
        "subject": None,
        "value": 1.0,
        "dismissed": False,
    }


def test_tables_from_a_non_evaluator_or_malformed_change_nothing(trio: Trio) -> None:
    evaluator, middle, last = trio.by_id()
    wait_until(
        lambda: all(listing(a)["evaluator"] == evaluator.info["node_id"] for a in trio.agents),
        15,
        "every member to agree on the evaluator",
    )
    forged = json.dumps({"revision": 2**60, "insights": [forged_card(middle.info["node_id"])]})
    response = push(middle, last, forged.encode())
    assert response.status_code == 409
    assert response.json()["error_code"] == "NOT_EVALUATOR"
    as_text = json.dumps({"revision": "3", "insights": []}).encode()
    for body in (b"{", b'{"revision": 1}', as_text, b"[" * 10_000):
        response = push(middle, evaluator, body)
        assert response.status_code == 400, response.text
    assert all(ids(a, dismissed=True) == [] for a in trio.agents)
    assert all(pulse_events(a, f"{OFFLINE}:{middle.info['node_id']}") == [] for a in trio.agents)


def test_one_offline_card_cluster_wide_dismissed_anywhere_cleared_on_return(trio: Trio) -> None:
    victim, evaluator, member = trio.by_id()  # the evaluator itself goes away
    victim_id = victim.info["node_id"]
    key = f"{OFFLINE}:{victim_id}"
    survivors = (evaluator, member)
    victim.stop()
    wait_until(lambda: all(ids(a) == [key] for a in survivors), 30, "the offline card on both")
    first, second = (listing(a) for a in survivors)
    assert first == second, "the survivors list different cards"
    assert first["evaluator"] == evaluator.info["node_id"]
    card = first["insights"][0]
    assert card["severity"] == "warning"
    assert card["node_id"] == victim_id
    assert all(pulse_events(a, key) == ["pulse.insight.raised"] for a in survivors)

    response = call(member, "POST", f"/api/pulse/insights/{quote(key, safe='')}/dismiss")
    assert response.status_code == 200, response.text
    assert response.json()["dismissed"] is True
    wait_until(
        lambda: all(ids(a) == [] and ids(a, dismissed=True) == [key] for a in survivors),
        15,
        "the dismissal on both survivors",
    )
    assert all(listing(a, dismissed=True)["insights"][0]["dismissed"] for a in survivors)
    assert all(pulse_events(a, key) == ["pulse.insight.raised"] for a in survivors)

    with agent_process(victim.home, *trio.args) as revived:
        wait_until(
            lambda: all(ids(a, dismissed=True) == [] for a in (*survivors, revived)),
            30,
            "the card to clear everywhere",
        )
        expected = ["pulse.insight.raised", "pulse.insight.cleared"]
        wait_until(
            lambda: all(pulse_events(a, key) == expected for a in survivors),
            15,
            "one cleared event on each survivor's bus",
        )
        wait_until(
            lambda: all(listing(a)["evaluator"] == victim_id for a in (*survivors, revived)),
            15,
            "the returned node to evaluate again",
        )
        assert all(pulse_events(a, key) == expected for a in survivors)
        assert pulse_events(revived, key) == []
