"""Requests on the peer listener: only current members, correctly signed, fresh and unique.

One cluster of three serves the whole module; the two tests that change it (an eviction, a
restart) come last."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.peer.identity import Identity, load_or_create_identity
from agent.peer.signing import DIGEST, TIMESTAMP, sign_headers
from agent.peer.tls import pinned_context
from tests.harness import (
    AgentProcess,
    agent_process,
    agent_processes,
    call,
    form_cluster,
    wait_until,
)

BODY = json.dumps({"telemetry": None, "membership": {}}).encode()


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AgentProcess]]:
    base = tmp_path_factory.mktemp("peer-auth")
    with agent_processes([base / f"node{i}" for i in range(3)]) as agents:
        form_cluster(agents)
        yield agents


def peer_client(target: AgentProcess) -> httpx.Client:
    cert = (target.home / "identity" / "tls.crt").read_text()
    return httpx.Client(
        base_url=f"https://127.0.0.1:{target.info['peer_port']}",
        verify=pinned_context(cert),
        timeout=10,
    )


def signed(
    identity: Identity, to: AgentProcess, body: bytes = BODY, path: str = "/peer/heartbeat"
) -> dict[str, str]:
    headers = sign_headers(
        identity.sign,
        identity.node_id,
        "POST",
        path,
        hashlib.sha256(body).hexdigest(),
        receiver=to.info["node_id"],
    )
    return {**headers, "content-type": "application/json"}


def identity_of(agent: AgentProcess) -> Identity:
    return load_or_create_identity(agent.home)


def rejected(agent: AgentProcess) -> dict[str, float]:
    families = call(agent, "GET", "/api/metrics").json()["metrics"]
    family = next((f for f in families if f["name"] == "openfabric_peer_requests_rejected"), None)
    if family is None:
        return {}
    return {
        s["labels"]["reason"]: s["value"] for s in family["samples"] if s["name"].endswith("_total")
    }


def expect(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code


def test_member_request_is_accepted(trio: list[AgentProcess]) -> None:
    with peer_client(trio[0]) as client:
        response = client.post(
            "/peer/heartbeat", content=BODY, headers=signed(identity_of(trio[1]), trio[0])
        )
    assert response.status_code == 200
    assert "membership" in response.json()


def test_unsigned_request(trio: list[AgentProcess]) -> None:
    with peer_client(trio[0]) as client:
        expect(client.post("/peer/heartbeat", content=BODY), 401, "UNSIGNED_REQUEST")
    assert rejected(trio[0]).get("UNSIGNED_REQUEST", 0) >= 1


def test_replayed_request(trio: list[AgentProcess]) -> None:
    headers = signed(identity_of(trio[1]), trio[0])
    with peer_client(trio[0]) as client:
        assert client.post("/peer/heartbeat", content=BODY, headers=headers).status_code == 200
        expect(
            client.post("/peer/heartbeat", content=BODY, headers=headers), 401, "REPLAYED_REQUEST"
        )
    assert rejected(trio[0]).get("REPLAYED_REQUEST", 0) >= 1


def test_stale_request(trio: list[AgentProcess]) -> None:
    headers = signed(identity_of(trio[1]), trio[0])
    headers[TIMESTAMP] = f"{float(headers[TIMESTAMP]) - 120:.3f}"
    with peer_client(trio[0]) as client:
        expect(client.post("/peer/heartbeat", content=BODY, headers=headers), 401, "STALE_REQUEST")


def test_wrong_key_for_a_member_id(tmp_path: Path, trio: list[AgentProcess]) -> None:
    impostor = load_or_create_identity(tmp_path / "impostor")
    member_id = trio[1].info["node_id"]
    headers = sign_headers(
        impostor.sign,
        member_id,
        "POST",
        "/peer/heartbeat",
        hashlib.sha256(BODY).hexdigest(),
        receiver=trio[0].info["node_id"],
    )
    headers["content-type"] = "application/json"
    with peer_client(trio[0]) as client:
        expect(client.post("/peer/heartbeat", content=BODY, headers=headers), 401, "BAD_SIGNATURE")
    assert rejected(trio[0]).get("BAD_SIGNATURE", 0) >= 1


def test_unknown_node(tmp_path: Path, trio: list[AgentProcess]) -> None:
    stranger = load_or_create_identity(tmp_path / "stranger")
    with peer_client(trio[0]) as client:
        expect(
            client.post("/peer/heartbeat", content=BODY, headers=signed(stranger, trio[0])),
            403,
            "UNKNOWN_NODE",
        )


def test_tampered_body(trio: list[AgentProcess]) -> None:
    headers = signed(identity_of(trio[1]), trio[0])
    tampered = json.dumps({"telemetry": {"evil": True}, "membership": {}}).encode()
    with peer_client(trio[0]) as client:
        expect(
            client.post("/peer/heartbeat", content=tampered, headers=headers),
            400,
            "BODY_DIGEST_MISMATCH",
        )


def test_signature_covers_the_path(trio: list[AgentProcess]) -> None:
    headers = signed(identity_of(trio[1]), trio[0], path="/peer/heartbeat")
    members = json.dumps({"members": []}).encode()
    headers[DIGEST] = hashlib.sha256(members).hexdigest()
    with peer_client(trio[0]) as client:
        expect(
            client.post("/peer/membership", content=members, headers=headers), 401, "BAD_SIGNATURE"
        )


@pytest.mark.parametrize("path", ["/peer/heartbeat", "/peer/membership"])
def test_peer_paths_are_not_on_the_local_api(trio: list[AgentProcess], path: str) -> None:
    assert call(trio[0], "POST", path, json={}).status_code == 404


def test_evicted_node_is_refused_everywhere(trio: list[AgentProcess]) -> None:
    evicted = trio[2]
    evicted_identity = identity_of(evicted)
    assert call(trio[0], "DELETE", f"/api/nodes/{evicted_identity.node_id}").status_code == 200
    for agent in trio[:2]:

        def refuses(a: AgentProcess = agent) -> bool:
            with peer_client(a) as client:
                response = client.post(
                    "/peer/heartbeat", content=BODY, headers=signed(evicted_identity, a)
                )
            return response.status_code == 403 and response.json()["error_code"] == "NODE_EVICTED"

        wait_until(refuses, 10, "the evicted key to be refused")


def test_restarted_member_keeps_its_key(tmp_path: Path, trio: list[AgentProcess]) -> None:
    node = trio[1]
    node.stop()
    with agent_process(node.home) as again, peer_client(trio[0]) as client:
        headers = signed(identity_of(again), trio[0])
        response = client.post("/peer/heartbeat", content=BODY, headers=headers)
        assert response.status_code == 200
