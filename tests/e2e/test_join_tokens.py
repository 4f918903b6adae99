"""Join tokens between real agents: every bad token is refused with a reason, changing nothing."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx

from agent.cluster.tokens import decode
from agent.peer.tls import pinned_context
from tests.harness import AgentProcess, agent_process, call, join, online_count, wait_until


def token_of(agent: AgentProcess) -> str:
    return call(agent, "GET", "/api/cluster/join-token").json()["token"]


def join_with(agent: AgentProcess, token: str) -> httpx.Response:
    return call(agent, "POST", "/api/cluster/join-remote", json={"token": token})


def assert_alone(*agents: AgentProcess) -> None:
    for agent in agents:
        status = call(agent, "GET", "/api/status").json()
        assert status["node_count"] == 1
        assert status["in_cluster"] is False


def test_token_shape(pair: list[AgentProcess]) -> None:
    body = call(pair[0], "GET", "/api/cluster/join-token").json()
    token = decode(body["token"])
    assert token.addresses == ("127.0.0.1",)
    assert token.peer_port == pair[0].info["peer_port"]
    assert len(token.secret) >= 26  # >= 128 bits, base64url
    assert 590 < body["expires_in"] <= 600
    assert body["join_url"].endswith("/join/" + body["token"])
    assert body["issuer"]["fingerprint"] == token.fingerprint


def test_token_is_single_use(tmp_path: Path, pair: list[AgentProcess]) -> None:
    token = token_of(pair[0])
    assert join_with(pair[1], token).status_code == 200
    with agent_process(tmp_path / "third") as third:
        response = join_with(third, token)
        assert response.status_code == 410
        assert response.json()["error_code"] == "TOKEN_USED"
        assert_alone(third)
    assert online_count(pair[0]) == 2


def test_expired_token_is_refused_by_joiner_and_issuer(tmp_path: Path) -> None:
    with (
        agent_process(tmp_path / "issuer", "--join-token-ttl", "1") as issuer,
        agent_process(tmp_path / "joiner") as joiner,
    ):
        text = token_of(issuer)
        token = decode(text)
        wait_until(lambda: time.time() > token.expires_at + 0.1, 5, "the token to expire")
        response = join_with(joiner, text)
        assert response.status_code == 410
        assert response.json()["error_code"] == "TOKEN_EXPIRED"
        # A token whose payload claims a later expiry is still expired at the issuer.
        stretched = dataclasses.replace(token, expires_at=time.time() + 600).encode()
        response = join_with(joiner, stretched)
        assert response.status_code == 410, response.text
        assert response.json()["error_code"] == "TOKEN_EXPIRED"
        assert_alone(issuer, joiner)


def test_forged_secret_is_refused(pair: list[AgentProcess]) -> None:
    token = decode(token_of(pair[0]))
    forged = dataclasses.replace(token, secret="A" * 27).encode()
    response = join_with(pair[1], forged)
    assert response.status_code == 401
    assert response.json()["error_code"] == "INVALID_TOKEN"
    assert_alone(*pair)
    assert join_with(pair[1], token.encode()).status_code == 200


def test_wrong_fingerprint_is_refused_before_anything_is_sent(pair: list[AgentProcess]) -> None:
    token = decode(token_of(pair[0]))
    other = dataclasses.replace(token, fingerprint="0" * 64).encode()
    response = join_with(pair[1], other)
    assert response.status_code == 422
    assert response.json()["error_code"] == "FINGERPRINT_MISMATCH"
    assert_alone(*pair)
    # The real token was never presented, so it still works.
    assert join_with(pair[1], token.encode()).status_code == 200


def test_malformed_tokens(pair: list[AgentProcess]) -> None:
    for bad in ["", "hello", "ofj1.", "ofj1.!!!!", "ofj1.e30", "x" * 5000]:
        response = join_with(pair[1], bad)
        assert response.status_code == 400, bad
        assert response.json()["error_code"] == "INVALID_TOKEN"
    for body in [{}, {"token": 5}, {"token": "a", "extra": 1}, []]:
        response = call(pair[1], "POST", "/api/cluster/join-remote", json=body)
        assert response.status_code == 400
    assert_alone(*pair)


def test_unreachable_issuer_is_503(pair: list[AgentProcess]) -> None:
    token = decode(token_of(pair[0]))
    gone = dataclasses.replace(token, peer_port=1).encode()
    response = join_with(pair[1], gone)
    assert response.status_code == 503
    assert response.json()["error_code"] == "ISSUER_UNREACHABLE"


def test_member_of_another_cluster_must_leave_first(
    tmp_path: Path, pair: list[AgentProcess]
) -> None:
    assert join(pair[1], pair[0]).status_code == 200
    with agent_process(tmp_path / "other") as other:
        response = join_with(pair[1], token_of(other))
        assert response.status_code == 409
        assert response.json()["error_code"] == "ALREADY_IN_CLUSTER"
        assert_alone(other)


def test_own_token_is_refused(pair: list[AgentProcess]) -> None:
    response = join_with(pair[0], token_of(pair[0]))
    assert response.status_code == 409
    assert response.json()["error_code"] == "OWN_TOKEN"


def test_onboarding_page(pair: list[AgentProcess]) -> None:
    body = call(pair[0], "GET", "/api/cluster/join-token").json()
    token = decode(body["token"])
    cert = (pair[0].home / "identity" / "tls.crt").read_text()
    with httpx.Client(verify=pinned_context(cert)) as browser:
        page = browser.get(body["join_url"])
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert f"openfabric join {body['token']}" in page.text
        assert token.fingerprint[:4] in page.text
        assert join_with(pair[1], body["token"]).status_code == 200
        used = browser.get(body["join_url"])
        assert used.status_code == 410
        assert "already been used" in used.text
        garbage = browser.get(body["join_url"].rsplit("/", 1)[0] + "/ofj1.nonsense")
        assert garbage.status_code == 400
