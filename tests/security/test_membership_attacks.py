"""A hostile member attacks membership on real agents, signing its pushes as itself.

Each attack is sent twice: in the shape the agents used to accept (one unsigned `members`
list, which is how these attacks were first reproduced) and as the best forgery the signed
shape allows. Either way the cluster must end up as if nothing had been sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.cluster import records
from agent.cluster.models import NodeBody
from agent.cluster.tokens import decode
from agent.peer.client import PeerClient, PeerTarget
from agent.peer.identity import Identity, load_or_create_identity
from tests.cli.conftest import invoke_agent
from tests.harness import (
    AgentProcess,
    agent_processes,
    call,
    join,
    online_count,
    wait_until,
)

HEARTBEAT = {"telemetry": None, "membership": {}}


def identity_of(agent: AgentProcess) -> Identity:
    return load_or_create_identity(agent.home)


def post_as(identity: Identity, to: AgentProcess, path: str, body: Any) -> httpx.Response:
    """A request signed by `identity`, to `to`'s peer listener, pinned to its certificate."""
    target = PeerTarget(
        to.info["node_id"],
        ("127.0.0.1",),
        int(to.info["peer_port"]),
        (to.home / "identity" / "tls.crt").read_text(),
    )

    async def send() -> httpx.Response:
        client = PeerClient(identity)
        try:
            return await client.request(target, "POST", path, json_body=body, timeout=10)
        finally:
            await client.close()

    return asyncio.run(send())


def node_ids(agent: AgentProcess) -> set[str]:
    return {n["node_id"] for n in call(agent, "GET", "/api/nodes").json()["nodes"]}


def cluster_of(agent: AgentProcess) -> str:
    return str(call(agent, "GET", "/api/status").json()["cluster_id"])


def legacy_entry(identity: Identity, home: Path, **changes: Any) -> dict[str, Any]:
    """A member entry in the old unsigned shape."""
    now = time.time()
    return {
        "node_id": identity.node_id,
        "name": "forged",
        "public_key": identity.public_key_b64,
        "fingerprint": identity.fingerprint,
        "cert_pem": (home / "identity" / "tls.crt").read_text(),
        "addresses": ["127.0.0.1"],
        "peer_port": 1,
        "version": "0.1.0",
        "status": "member",
        "rev": 1_000_000,
        "joined_at": now,
        "updated_at": now,
        **changes,
    }


def signed_entry(signer: Identity, about: Identity, home: Path, **changes: Any) -> dict[str, Any]:
    """A node entry for `about`, signed by `signer` (the same one for a genuine entry)."""
    body = {
        "kind": "node",
        "node_id": about.node_id,
        "public_key": about.public_key_b64,
        "name": "forged",
        "fingerprint": about.fingerprint,
        "cert_pem": (home / "identity" / "tls.crt").read_text(),
        "addresses": ["127.0.0.1"],
        "peer_port": 1,
        "version": "0.1.0",
        "seq": 1_000_000,
        "at": int(time.time() * 1000),
        **changes,
    }
    return records.sign_node(signer, NodeBody.model_validate(body)).wire()


def push_both(
    attacker: Identity, to: AgentProcess, legacy: list[dict[str, Any]], signed: dict[str, Any]
) -> httpx.Response:
    cluster_id = cluster_of(to)
    post_as(attacker, to, "/peer/membership", {"cluster_id": cluster_id, "members": legacy})
    body = {"cluster_id": cluster_id, "records": [], "nodes": [], **signed}
    return post_as(attacker, to, "/peer/membership", body)


def test_a_member_cannot_un_evict_a_node(trio: list[AgentProcess]) -> None:
    a, b, c = trio
    hostile, evicted = identity_of(b), identity_of(c)
    assert call(a, "DELETE", f"/api/nodes/{evicted.node_id}").status_code == 200
    wait_until(lambda: evicted.node_id not in node_ids(a), 10, "the eviction")
    readmit = records.admit(
        hostile, cluster_of(a), evicted.node_id, evicted.public_key_b64, "00" * 8, 2 * 10**12
    )
    answer = push_both(
        hostile,
        a,
        [legacy_entry(evicted, c.home)],
        {
            "records": [readmit.wire()],
            "nodes": [signed_entry(evicted, evicted, c.home, seq=2**53)],
        },
    )
    refused = post_as(evicted, a, "/peer/heartbeat", HEARTBEAT)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error_code"] == "NODE_EVICTED"
    assert evicted.node_id not in node_ids(a)
    # Well-formed, so taken in; but nothing in it could count.
    assert answer.status_code == 200, answer.text


def test_a_member_cannot_add_a_key_without_a_join(tmp_path: Path, trio: list[AgentProcess]) -> None:
    a, b, _ = trio
    hostile = identity_of(b)
    stranger = load_or_create_identity(tmp_path / "stranger")
    self_admit = records.admit(
        stranger,
        cluster_of(a),
        stranger.node_id,
        stranger.public_key_b64,
        "00" * 8,
        int(time.time() * 1000),
    )
    # An admission that names a as its issuer, signed by the hostile member.
    claimed = records.admit(
        hostile,
        cluster_of(a),
        stranger.node_id,
        stranger.public_key_b64,
        "11" * 8,
        int(time.time() * 1000),
    ).wire()
    claimed["body"].update(by=a.info["node_id"], by_key=identity_of(a).public_key_b64)
    push_both(
        hostile,
        a,
        [legacy_entry(stranger, tmp_path / "stranger")],
        {
            "records": [self_admit.wire(), claimed],
            "nodes": [signed_entry(stranger, stranger, tmp_path / "stranger")],
        },
    )
    for agent in trio[:2]:
        refused = post_as(stranger, agent, "/peer/heartbeat", HEARTBEAT)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error_code"] == "UNKNOWN_NODE"
        assert stranger.node_id not in node_ids(agent)


def test_a_member_cannot_replace_another_members_key(
    tmp_path: Path, trio: list[AgentProcess]
) -> None:
    a, b, c = trio
    hostile, victim = identity_of(b), identity_of(c)
    attacker = load_or_create_identity(tmp_path / "attacker")
    swapped = dataclasses.replace(victim, public_key_b64=attacker.public_key_b64)
    push_both(
        hostile,
        a,
        [legacy_entry(swapped, c.home)],
        {"nodes": [signed_entry(attacker, swapped, c.home)]},
    )
    # Signing as the victim with the attacker's key gets nowhere.
    impostor = dataclasses.replace(attacker, node_id=victim.node_id)
    refused = post_as(impostor, a, "/peer/heartbeat", HEARTBEAT)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error_code"] == "BAD_SIGNATURE"
    assert post_as(victim, a, "/peer/heartbeat", HEARTBEAT).status_code == 200
    assert call(a, "GET", f"/api/nodes/{victim.node_id}").json()["name"] != "forged"


def test_out_of_range_values_are_refused_and_eviction_still_works(
    trio: list[AgentProcess],
) -> None:
    a, b, _ = trio
    hostile = identity_of(b)
    for changes in ({"seq": 2**63 - 1}, {"peer_port": 99999}, {"at": float("nan")}):
        body = signed_entry(hostile, hostile, b.home)
        body["body"].update(changes)  # bounds are checked before any signature
        answer = push_both(
            hostile,
            a,
            [legacy_entry(hostile, b.home, rev=2**63 - 1, peer_port=99999)],
            {"nodes": [body]},
        )
        assert answer.status_code == 400, answer.text
    evicted = call(a, "DELETE", f"/api/nodes/{hostile.node_id}")
    assert evicted.status_code == 200, evicted.text
    wait_until(lambda: hostile.node_id not in node_ids(trio[2]), 10, "the eviction to spread")


def test_a_token_with_a_forged_cluster_id_is_refused(pair: list[AgentProcess]) -> None:
    issuer, joiner = pair
    token = decode(call(issuer, "GET", "/api/cluster/join-token").json()["token"])
    forged = dataclasses.replace(token, cluster_id=secrets.token_hex(16)).encode()
    response = call(joiner, "POST", "/api/cluster/join-remote", json={"token": forged})
    assert response.status_code == 401, response.text
    assert response.json()["error_code"] == "INVALID_TOKEN"
    for agent in pair:
        assert call(agent, "GET", "/api/status").json()["node_count"] == 1
    real = call(joiner, "POST", "/api/cluster/join-remote", json={"token": token.encode()})
    assert real.status_code == 200, real.text


@pytest.mark.slow
def test_a_token_from_before_its_issuer_joined_elsewhere_is_refused(tmp_path: Path) -> None:
    with agent_processes([tmp_path / n for n in ("lone", "hub", "device")]) as agents:
        lone, hub, device = agents
        early = call(lone, "GET", "/api/cluster/join-token").json()["token"]
        assert join(lone, hub).status_code == 200
        response = call(device, "POST", "/api/cluster/join-remote", json={"token": early})
        assert response.status_code == 401, response.text
        assert response.json()["error_code"] == "INVALID_TOKEN"
        assert call(device, "GET", "/api/status").json()["node_count"] == 1
        wait_until(lambda: online_count(hub) == 2, 10, "the hub to see the lone node")
        assert device.info["node_id"] not in node_ids(hub)


@pytest.mark.slow
def test_evict_admitted_from_the_cli_takes_whom_the_node_admitted(tmp_path: Path) -> None:
    with agent_processes([tmp_path / n for n in ("a", "b", "c")]) as (a, b, c):
        assert join(b, a).status_code == 200
        assert join(c, b).status_code == 200  # b admits c
        wait_until(lambda: online_count(a) == 3, 15, "a to see c, admitted by b")
        b_id, c_id = b.info["node_id"], c.info["node_id"]
        c_name = call(c, "GET", "/api/status").json()["node_name"]
        result = invoke_agent(a, "nodes", "evict", b_id, "--evict-admitted", "--yes")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines() == [
            f"evicted {b_id}",
            f"  admitted {c_id} ({c_name}): evicted too",
        ]
        wait_until(lambda: node_ids(a) == {a.info["node_id"]}, 10, "both evictions")
        for gone in (b, c):
            wait_until(
                lambda g=gone: not call(g, "GET", "/api/status").json()["in_cluster"],
                10,
                "the evicted nodes to be told",
            )


def test_a_member_cannot_claim_out_of_range_capabilities(trio: list[AgentProcess]) -> None:
    a, b, _ = trio
    hostile = identity_of(b)
    for claim in (
        {"max_tasks": 10**9},
        {"storage_free": 2**70},
        {"tasks_busy": -1},
        {"llm": {"up": True, "models": [{"name": "x" * 10_000}]}},
        {"remote_exec": "yes"},
    ):
        refused = post_as(hostile, a, "/peer/heartbeat", {**HEARTBEAT, "capabilities": claim})
        assert refused.status_code == 400, (claim, refused.text)
        assert refused.json()["error_code"] == "VALIDATION_ERROR"
        capabilities = call(a, "GET", f"/api/nodes/{hostile.node_id}").json()["capabilities"]
        for key in claim:
            assert capabilities.get(key) != claim[key]
    # A newer member's unknown capability is ignored, not refused. The real member is paused,
    # so its own heartbeats cannot replace the forged claim before it is read back.
    b.process.send_signal(signal.SIGSTOP)
    try:

        def taken() -> dict[str, object] | None:
            claim = {"max_tasks": 3, "new": 1}
            sent = post_as(hostile, a, "/peer/heartbeat", {**HEARTBEAT, "capabilities": claim})
            assert sent.status_code == 200, sent.text
            held = call(a, "GET", f"/api/nodes/{hostile.node_id}").json()["capabilities"]
            return held if held["max_tasks"] == 3 else None

        capabilities = wait_until(taken, 10, "the forged claim to be held")
        assert "new" not in capabilities
    finally:
        b.process.send_signal(signal.SIGCONT)
