"""Fabric Flow across three real agents: a flow saved on one member reaches the others, its
update and delete too; a manual run goes to the owner and is cancelled from any member; an
event that happens on one member fires a flow another owns, once; members refuse what they
must; an interval trigger runs once per slot on exactly one member, another member takes
over when its owner is killed, and after the owner returns no slot has run twice anywhere."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.flows.peer_wire import RECORDS
from agent.peer.identity import load_or_create_identity
from tests.harness import (
    AgentProcess,
    agent_process,
    call,
    online_count,
    signed_peer_post,
    wait_until,
)

YAML = {"content-type": "application/yaml"}

MANUAL = """\
name: {name}
description: {description}
triggers:
  - manual: {{}}
steps:
  - id: pause
    uses: wait
    with:
      duration: 100ms
"""

# catch_up: a member arming it fires the latest slot it has not seen fired: one that arms it
# without having learnt the others' cursors runs a slot twice.
TICKER = """\
name: Ticker
catch_up: true
triggers:
  - interval: 1s
steps:
  - id: tick
    uses: wait
    with:
      duration: 100ms
"""


def flow(agent: AgentProcess, flow_id: str) -> dict[str, Any] | None:
    response = call(agent, "GET", f"/api/flows/{flow_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def save(agent: AgentProcess, text: str, flow_id: str | None = None) -> dict[str, Any]:
    method, path = ("POST", "/api/flows") if flow_id is None else ("PUT", f"/api/flows/{flow_id}")
    response = httpx.request(
        method, agent.url + path, content=text, headers={**agent.headers(), **YAML}, timeout=30
    )
    assert response.status_code == (201 if flow_id is None else 200), response.text
    body: dict[str, Any] = response.json()
    return body


def runs(agent: AgentProcess, flow_id: str) -> list[dict[str, Any]]:
    response = call(agent, "GET", f"/api/flows/{flow_id}/runs", params={"limit": 50})
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["runs"]
    return listed


def node_id(agent: AgentProcess) -> str:
    return str(agent.info["node_id"])


def flow_at(agent: AgentProcess, flow_id: str, version: int = 1) -> dict[str, Any] | None:
    """The flow as `agent` holds it, once it holds `version` or a later one."""
    found = flow(agent, flow_id)
    return found if found is not None and found["version"] >= version else None


def gone(agent: AgentProcess, flow_id: str) -> bool:
    return flow(agent, flow_id) is None


def owner_on(agent: AgentProcess, flow_id: str) -> str | None:
    found = flow(agent, flow_id)
    assert found is not None
    owner: str | None = found["owner"]
    return owner


def all_online(agent: AgentProcess) -> bool:
    return online_count(agent) == 3


def test_a_flow_saved_on_one_member_reaches_the_others(calm_trio: list[AgentProcess]) -> None:
    a, b, c = calm_trio
    created = save(a, MANUAL.format(name="Reach", description="first"))
    flow_id = created["id"]
    for other in (b, c):
        seen = wait_until(partial(flow_at, other, flow_id), 15, "the flow on every member")
        assert (seen["version"], seen["author"]) == (created["version"], node_id(a))
        assert seen["source"] == created["source"]
    updated = save(b, MANUAL.format(name="Reach", description="second"), flow_id)
    assert updated["version"] == created["version"] + 1
    for other in (a, c):
        seen = wait_until(
            partial(flow_at, other, flow_id, updated["version"]), 15, "the update everywhere"
        )
        assert (seen["description"], seen["author"]) == ("second", node_id(b))
    owners = {owner_on(agent, flow_id) for agent in calm_trio}
    assert len(owners) == 1
    assert owners <= {node_id(agent) for agent in calm_trio}
    assert call(c, "DELETE", f"/api/flows/{flow_id}").status_code == 200
    for other in (a, b):
        wait_until(partial(gone, other, flow_id), 15, "the delete on every member")


def test_a_manual_run_goes_to_the_owner(calm_trio: list[AgentProcess]) -> None:
    a = calm_trio[0]
    flow_id = save(a, MANUAL.format(name="Handed", description="to its owner"))["id"]
    for agent in calm_trio:
        wait_until(partial(flow_at, agent, flow_id), 15, "the flow on every member")
    owner = owner_on(a, flow_id)
    asker = next(agent for agent in calm_trio if node_id(agent) != owner)
    response = call(asker, "POST", f"/api/flows/{flow_id}/run", json={})
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["node_id"] == owner
    third = next(g for g in calm_trio if node_id(g) not in (owner, node_id(asker)))
    wait_until(
        lambda: any(r["id"] == run["id"] for r in runs(third, flow_id)), 15, "the run everywhere"
    )
    got = call(third, "GET", f"/api/flows/{flow_id}/runs/{run['id']}")
    assert got.status_code == 200, got.text
    assert got.json()["node_id"] == owner
    call(a, "DELETE", f"/api/flows/{flow_id}")


LONG = """\
name: Long
triggers:
  - manual: {}
steps:
  - id: pause
    uses: wait
    with:
      duration: 10m
"""

ON_UPLOAD = """\
name: On upload
runs_on: {owner}
triggers:
  - event: storage.uploaded
    filter: event.data.path.startsWith("relay/")
steps:
  - id: pause
    uses: wait
    with:
      duration: 10ms
"""


def test_a_run_on_another_member_is_cancelled_from_any(calm_trio: list[AgentProcess]) -> None:
    a = calm_trio[0]
    flow_id = save(a, LONG)["id"]
    for agent in calm_trio:
        wait_until(partial(flow_at, agent, flow_id), 15, "the flow on every member")
    owner = owner_on(a, flow_id)
    started = call(a, "POST", f"/api/flows/{flow_id}/run", json={})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    asker = next(agent for agent in calm_trio if node_id(agent) != owner)
    cancelled = call(asker, "POST", f"/api/flows/{flow_id}/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["node_id"], cancelled.json()["state"]) == (owner, "cancelled")
    again = call(asker, "POST", f"/api/flows/{flow_id}/runs/{run_id}/cancel")
    assert again.status_code == 409, again.text
    assert again.json()["error_code"] == "FLOW_RUN_FINISHED"
    missing = call(asker, "POST", f"/api/flows/{flow_id}/runs/nosuchrun/cancel")
    assert missing.status_code == 404, missing.text
    call(a, "DELETE", f"/api/flows/{flow_id}")


def upload_runs(agent: AgentProcess, flow_id: str, path: str) -> list[dict[str, Any]]:
    return [
        r
        for r in runs(agent, flow_id)
        if r["trigger"]["kind"] == "event" and r["trigger"]["payload"]["data"]["path"] == path
    ]


def test_an_event_on_one_member_fires_a_flow_another_owns_once(
    calm_trio: list[AgentProcess],
) -> None:
    a, b, c = calm_trio
    flow_id = save(c, ON_UPLOAD.format(owner=node_id(b)))["id"]
    for agent in calm_trio:
        wait_until(partial(flow_at, agent, flow_id), 15, "the flow on every member")
        assert owner_on(agent, flow_id) == node_id(b)
    uploaded = call(a, "POST", "/api/storage/upload?path=relay/first.txt", content=b"first")
    assert uploaded.status_code in (200, 201), uploaded.text
    fired = wait_until(
        lambda: upload_runs(c, flow_id, "relay/first.txt"), 20, "the upload on A to run on B"
    )
    assert [r["node_id"] for r in fired] == [node_id(b)]
    # The owner's own upload fires too; once it has, a second firing of the first would have
    # come before it (both are relayed or published in order of the uploads).
    local = call(b, "POST", "/api/storage/upload?path=relay/second.txt", content=b"second")
    assert local.status_code in (200, 201), local.text
    wait_until(lambda: upload_runs(a, flow_id, "relay/second.txt"), 20, "B's own upload to run")
    for agent in calm_trio:
        assert len(upload_runs(agent, flow_id, "relay/first.txt")) == 1
        assert len(upload_runs(agent, flow_id, "relay/second.txt")) == 1
    call(a, "DELETE", f"/api/flows/{flow_id}")


def test_members_refuse_strangers_and_malformed_bodies(
    calm_trio: list[AgentProcess], tmp_path: Path
) -> None:
    a, b, _ = calm_trio
    stranger = load_or_create_identity(tmp_path / "stranger")
    refused = signed_peer_post(b, stranger, RECORDS, b'{"records": []}')
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "UNKNOWN_NODE"
    member = load_or_create_identity(a.home)
    malformed = signed_peer_post(b, member, RECORDS, json.dumps({"records": 5}).encode())
    assert malformed.status_code == 400
    before = call(b, "GET", "/api/flows").json()["count"]
    forged = {
        "flow_id": "forged",
        "version": 1,
        "author": node_id(b),
        "updated_at": time.time(),
        "deleted": False,
        "enabled": True,
        "format": "yaml",
        "source": "name: Forged\n",
        "signature": "A" * 128,
    }
    taken = signed_peer_post(b, member, RECORDS, json.dumps({"records": [forged]}).encode())
    assert taken.status_code == 200
    assert taken.json() == {"taken": 0}
    assert call(b, "GET", "/api/flows").json()["count"] == before


def slot_counts(agents: list[AgentProcess], flow_id: str) -> Counter[int]:
    """How many runs each slot has across the cluster (each member asked, runs by member)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for agent in agents:
        for run in runs(agent, flow_id):
            seen[(run["node_id"], run["id"])] = run
    return Counter(
        int(r["trigger"]["payload"]["slot"])
        for r in seen.values()
        if r["trigger"]["kind"] == "interval"
    )


def runners(agents: list[AgentProcess], flow_id: str, since: float = 0.0) -> set[str]:
    return {r["node_id"] for r in runs(agents[0], flow_id) if r["created_at"] >= since}


@pytest.mark.slow
def test_an_interval_runs_once_per_slot_across_a_failover(trio: list[AgentProcess]) -> None:
    flow_id = save(trio[0], TICKER)["id"]
    wait_until(lambda: len(slot_counts(trio, flow_id)) >= 3, 30, "three slots to run")
    owner = owner_on(trio[0], flow_id)
    assert runners(trio, flow_id) == {owner}
    victim = next(agent for agent in trio if node_id(agent) == owner)
    survivors = [agent for agent in trio if agent is not victim]

    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    killed_at = time.time()
    wait_until(
        lambda: runners(survivors, flow_id, killed_at) - {owner},
        30,
        "another member to take the flow over",
    )
    [heir] = runners(survivors, flow_id, killed_at) - {owner}
    # Each survivor sees the owner go offline on its own heartbeat clock: the heir can already
    # run while the other still names the old owner.
    wait_until(
        lambda: {owner_on(agent, flow_id) for agent in survivors} == {heir},
        30,
        "both survivors to name the heir",
    )

    with agent_process(victim.home) as back:
        cluster = [back, *survivors]
        for agent in cluster:
            wait_until(partial(all_online, agent), 30, "the owner back online")
        returned_at = time.time()
        wait_until(
            lambda: owner in runners(cluster, flow_id, returned_at),
            30,
            "the returning owner to run its flow again",
        )
        wait_until(
            lambda: len(slot_counts(cluster, flow_id)) >= 6,
            30,
            "more slots after the return",
        )
        toggled = call(back, "PUT", f"/api/flows/{flow_id}/toggle", json={"enabled": False})
        assert toggled.status_code == 200, toggled.text
        counts = slot_counts(cluster, flow_id)
        assert counts, "no interval runs were seen"
        twice = {slot: n for slot, n in counts.items() if n > 1}
        assert not twice, f"slots that ran more than once: {twice}"
        owners = {owner_on(agent, flow_id) for agent in cluster}
        assert owners == {owner}
