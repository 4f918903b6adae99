"""`POST /peer/telemetry/history` as a hostile member and as an outsider: every bound holds,
a stranger is refused, and the answer never exceeds what the route promises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.peer.identity import load_or_create_identity
from agent.telemetry.remote import MAX_SAMPLES, PATH
from tests.harness import AgentProcess
from tests.security.peer_support import (
    cluster,
    error_code,
    identity_of,
    node_id,
    peer_client,
    signed,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[AgentProcess]]:
    with cluster(tmp_path_factory.mktemp("history"), 2) as agents:
        yield agents


def ask(caller_home: Path | AgentProcess, receiver: AgentProcess, body: object) -> httpx.Response:
    identity = (
        identity_of(caller_home)
        if isinstance(caller_home, AgentProcess)
        else load_or_create_identity(caller_home)
    )
    data = json.dumps(body).encode()
    with peer_client(receiver) as client:
        return client.post(
            PATH, content=data, headers=signed(identity, node_id(receiver), "POST", PATH, data)
        )


@pytest.mark.parametrize(
    "body",
    [
        {"limit": MAX_SAMPLES + 1},
        {"limit": 0},
        {"seconds": -5},
        {"seconds": 1e12},
        {"seconds": "all"},
        {"limit": 10, "evil": True},
        [1, 2, 3],
    ],
)
def test_a_member_s_out_of_bounds_asks_are_refused(pair: list[AgentProcess], body: object) -> None:
    member, receiver = pair
    response = ask(member, receiver, body)
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False


def test_a_member_gets_at_most_what_it_asked(pair: list[AgentProcess]) -> None:
    member, receiver = pair
    response = ask(member, receiver, {"limit": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["node_id"] == node_id(receiver)
    assert body["count"] == len(body["samples"]) <= 2


def test_a_stranger_is_refused(pair: list[AgentProcess], tmp_path: Path) -> None:
    _, receiver = pair
    response = ask(tmp_path / "stranger", receiver, {})
    assert response.status_code in (401, 403)
    assert response.json()["success"] is False
    assert error_code(response)
