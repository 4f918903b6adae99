"""Two real agents joined, then parted: every answer on the way matches the schema the agent
publishes for its route, and every node.* event carries exactly its payload model."""

from __future__ import annotations

import json
from typing import Any

import httpx

from agent.cluster.events import NODE_HEARTBEAT, TOPICS, MemberSample, NodeChange
from agent.cluster.models import ClusterNode, NodeList
from agent.core.stream_events import STREAM_GAP, StreamGap
from agent.telemetry.events import NODE_TELEMETRY
from agent.telemetry.models import TelemetrySample
from tests.harness import AgentProcess, call, replay_events, wait_until
from tests.ops.published import assert_matches

WAIT = 15


def spec_of(agent: AgentProcess) -> dict[str, Any]:
    body: dict[str, Any] = call(agent, "GET", "/api/openapi.json").json()
    return body


def answered(agent: AgentProcess, method: str, path: str, **kwargs: Any) -> Any:
    response = call(agent, method, path, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def online(agent: AgentProcess, count: int) -> bool:
    status = call(agent, "GET", "/api/status").json()
    return bool(status["node_count"] == status["online_count"] == count)


def check_live_samples(agent: AgentProcess, heartbeats: int) -> None:
    """This node's samples and the other member's, as they stream: exactly their models, and
    a member's samples each once and in order (both ends of a heartbeat carry one)."""
    got: list[tuple[str, dict[str, Any]]] = []
    query = {"topics": "node.telemetry,node.heartbeat"}
    with httpx.stream(
        "GET", agent.url + "/api/events", params=query, headers=agent.headers(), timeout=WAIT
    ) as stream:
        topic = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                topic = line[7:]
            elif line.startswith("data: ") and topic:
                got.append((topic, json.loads(line[6:])))
                if sum(t == NODE_HEARTBEAT.name for t, _ in got) >= heartbeats:
                    break
    for data in (d for t, d in got if t == NODE_TELEMETRY.name):
        assert TelemetrySample.model_validate(data).model_dump(mode="json") == data
    raw = [d for t, d in got if t == NODE_HEARTBEAT.name]
    samples = [MemberSample.model_validate(d) for d in raw]
    for sample, data in zip(samples, raw, strict=True):
        assert sample.model_dump(mode="json") == data
        assert sample.node_id != agent.info["node_id"]
        TelemetrySample.model_validate(sample.telemetry)
    stamps = [s.telemetry["ts"] for s in samples]
    assert stamps == sorted(set(stamps))


def test_join_evict_and_leave_answers_and_events(pair: list[AgentProcess]) -> None:
    hub, joiner = pair
    spec = spec_of(hub)

    token = answered(hub, "GET", "/api/cluster/join-token")
    assert_matches(spec, "GET", "/api/cluster/join-token", token)
    joined = answered(joiner, "POST", "/api/cluster/join-remote", json={"token": token["token"]})
    assert_matches(spec, "POST", "/api/cluster/join-remote", joined)
    wait_until(lambda: online(hub, 2) and online(joiner, 2), WAIT, "both to see two online")

    # A remote member as the hub sees it, its telemetry from heartbeats included.
    remote = joiner.info["node_id"]
    wait_until(
        lambda: call(hub, "GET", f"/api/nodes/{remote}").json()["telemetry"],
        WAIT,
        "the joiner's telemetry on the hub",
    )
    check_live_samples(hub, heartbeats=3)
    for agent in pair:
        nodes = answered(agent, "GET", "/api/nodes")
        assert_matches(spec, "GET", "/api/nodes", nodes)
        assert NodeList.model_validate(nodes).model_dump(mode="json") == nodes
        status = answered(agent, "GET", "/api/status")
        assert_matches(spec, "GET", "/api/status", status)
    node = answered(hub, "GET", f"/api/nodes/{remote}")
    assert_matches(spec, "GET", "/api/nodes/{node_id}", node)
    assert node["is_self"] is False
    parsed = ClusterNode.model_validate(node)
    assert parsed.telemetry is not None
    assert not isinstance(parsed.telemetry, dict), "a same-version sample reads as a model"

    evicted = answered(hub, "DELETE", f"/api/nodes/{remote}")
    assert evicted == {"node_id": remote, "evicted": True, "admitted": [], "also_evicted": []}
    assert_matches(spec, "DELETE", "/api/nodes/{node_id}", evicted)
    wait_until(
        lambda: not call(joiner, "GET", "/api/status").json()["in_cluster"],
        WAIT,
        "the joiner to learn of its eviction",
    )
    check_node_events(hub, {"node.joined", "node.online", "node.evicted"})
    check_node_events(joiner, {"node.joined", "node.evicted"})


def test_leave_answer_and_event(pair: list[AgentProcess]) -> None:
    hub, leaver = pair
    token = call(hub, "GET", "/api/cluster/join-token").json()["token"]
    assert call(leaver, "POST", "/api/cluster/join-remote", json={"token": token}).is_success
    wait_until(lambda: online(hub, 2), WAIT, "the hub to see two online")

    left = answered(leaver, "POST", "/api/cluster/leave")
    assert left["node_id"] == leaver.info["node_id"]
    assert_matches(spec_of(leaver), "POST", "/api/cluster/leave", left)
    wait_until(
        lambda: any(t == "node.left" for t, _ in replay_events(hub, "node")),
        WAIT,
        "node.left on the hub",
    )
    check_node_events(hub, {"node.left"})
    # The leaver's own event says it is about itself, in the same shape as the others.
    own = [d for t, d in replay_events(leaver, "node") if t == "node.left" and d["self"]]
    assert own, "the leaver publishes its own node.left"
    assert own[-1]["status"] == "left"
    check_node_events(leaver, {"node.left"})


def check_node_events(agent: AgentProcess, expected: set[str]) -> None:
    """Every node.* event the agent still holds is a declared topic whose data is exactly
    its payload's JSON."""
    declared = {t.name: t for t in TOPICS}
    seen = replay_events(agent, "node")
    # Resuming from id 0 always misses what came before the agent started: a real gap.
    gaps = [d for t, d in seen if t == STREAM_GAP.name]
    assert len(gaps) == 1
    assert StreamGap.model_validate(gaps[0]).model_dump(mode="json") == gaps[0]
    assert gaps[0]["after"] == 0
    seen = [(t, d) for t, d in seen if t != STREAM_GAP.name]
    # Samples are live only: the ring keeps the changes worth replaying.
    live_only = {NODE_TELEMETRY.name, NODE_HEARTBEAT.name}
    assert not [t for t, _ in seen if t in live_only]
    cluster_events = seen
    assert expected <= {t for t, _ in cluster_events}, cluster_events
    for topic, data in cluster_events:
        assert topic in declared, topic
        assert declared[topic].payload is NodeChange
        assert NodeChange.model_validate(data).model_dump(mode="json") == data
        assert set(data) == set(NodeChange.model_fields)
