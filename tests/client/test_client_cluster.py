"""The SDK's cluster calls without an agent (httpx MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agent.client import AdmittedNode, AgentClient, ApiError, JoinResult, JoinToken, LeaveResult

TOKEN_BODY = {
    "token": "ofj1.abc",
    "join_url": "https://192.0.2.1:4893/join/ofj1.abc",
    "command": "openfabric join ofj1.abc",
    "expires_at": 1700000600.0,
    "expires_in": 600.0,
    "cluster_id": "c0ffee",
    "issuer": {
        "node_id": "n1",
        "name": "laptop",
        "addresses": ["192.0.2.1"],
        "peer_port": 4893,
        "fingerprint": "ab" * 32,
    },
}


class Recorder:
    """A MockTransport handler answering `body` and keeping every request it saw."""

    def __init__(self, body: Any, status: int = 200) -> None:
        self.body, self.status = body, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    def client(self) -> AgentClient:
        return AgentClient("http://agent.test", "secret", transport=httpx.MockTransport(self))

    @property
    def only(self) -> httpx.Request:
        (request,) = self.requests
        return request


def error(code: str, message: str = "refused") -> dict[str, Any]:
    return {"success": False, "error": message, "error_code": code, "details": {}}


async def test_join_token_is_a_get() -> None:
    recorder = Recorder(TOKEN_BODY)
    async with recorder.client() as client:
        token = await client.join_token()
    assert isinstance(token, JoinToken)
    assert token.issuer.fingerprint == "ab" * 32
    assert token.model_dump(mode="json") == TOKEN_BODY
    assert (recorder.only.method, recorder.only.url.path) == ("GET", "/api/cluster/join-token")
    assert recorder.only.headers["authorization"] == "Bearer secret"


async def test_join_posts_the_token() -> None:
    answer = {"cluster_id": "c0ffee", "joined_via": "n1", "members": ["n1", "n2"]}
    recorder = Recorder(answer)
    async with recorder.client() as client:
        assert await client.join("ofj1.abc") == JoinResult(**answer)
    request = recorder.only
    assert (request.method, request.url.path) == ("POST", "/api/cluster/join-remote")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"token": "ofj1.abc"}


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "INVALID_TOKEN"),
        (401, "INVALID_TOKEN"),
        (409, "ALREADY_IN_CLUSTER"),
        (409, "OWN_TOKEN"),
        (410, "TOKEN_EXPIRED"),
        (410, "TOKEN_USED"),
        (422, "FINGERPRINT_MISMATCH"),
        (503, "ISSUER_UNREACHABLE"),
    ],
)
async def test_join_refusals_are_api_errors(status: int, code: str) -> None:
    async with Recorder(error(code, "no"), status).client() as client:
        with pytest.raises(ApiError) as caught:
            await client.join("ofj1.abc")
    assert (caught.value.status, caught.value.code) == (status, code)
    assert str(caught.value) == f"no ({code})"


async def test_leave_is_a_post_without_a_body() -> None:
    recorder = Recorder({"left": "c0ffee", "node_id": "n2"})
    async with recorder.client() as client:
        assert await client.leave() == LeaveResult(left="c0ffee", node_id="n2")
    assert (recorder.only.method, recorder.only.url.path) == ("POST", "/api/cluster/leave")
    assert recorder.only.content == b""


async def test_leave_when_alone_is_not_in_cluster() -> None:
    async with Recorder(error("NOT_IN_CLUSTER"), 409).client() as client:
        with pytest.raises(ApiError, match="NOT_IN_CLUSTER"):
            await client.leave()


async def test_discovered() -> None:
    body = {"agents": [], "count": 0, "mdns": False}
    recorder = Recorder(body)
    async with recorder.client() as client:
        assert (await client.discovered()).model_dump(mode="json") == body
    assert (recorder.only.method, recorder.only.url.path) == ("GET", "/api/cluster/discovered")


async def test_evict_node_quotes_the_id() -> None:
    body = {"node_id": "a/b", "evicted": True, "admitted": [], "also_evicted": []}
    recorder = Recorder(body)
    async with recorder.client() as client:
        assert (await client.evict_node("a/b")).model_dump(mode="json") == body
    assert recorder.only.method == "DELETE"
    assert recorder.only.url.raw_path == b"/api/nodes/a%2Fb"


async def test_evict_node_can_evict_whom_it_admitted() -> None:
    body = {
        "node_id": "n1",
        "evicted": True,
        "admitted": [{"node_id": "n2", "name": "desk", "status": "evicted"}],
        "also_evicted": ["n2"],
    }
    recorder = Recorder(body)
    async with recorder.client() as client:
        result = await client.evict_node("n1", evict_admitted=True)
    assert result.admitted == [AdmittedNode(node_id="n2", name="desk", status="evicted")]
    assert result.model_dump(mode="json") == body
    assert recorder.only.method == "DELETE"
    assert recorder.only.url.path == "/api/nodes/n1"
    assert recorder.only.url.params["evict_admitted"] == "true"
    recorder = Recorder({**body, "admitted": [], "also_evicted": []})
    async with recorder.client() as client:
        await client.evict_node("n1")
    assert "evict_admitted" not in recorder.only.url.params
