"""Three real agents: join, failure detection, restart, eviction, leaving."""

from __future__ import annotations

import signal

from tests.harness import (
    AgentProcess,
    agent_process,
    call,
    join,
    online_count,
    wait_until,
)


def node_ids(agent: AgentProcess) -> set[str]:
    return {n["node_id"] for n in call(agent, "GET", "/api/nodes").json()["nodes"]}


def state_of(agent: AgentProcess, node_id: str) -> str | None:
    response = call(agent, "GET", f"/api/nodes/{node_id}")
    return response.json()["state"] if response.status_code == 200 else None


def test_three_nodes_see_each_other(calm_trio: list[AgentProcess]) -> None:
    ids = {a.info["node_id"] for a in calm_trio}
    cluster_ids = set()
    for agent in calm_trio:
        assert node_ids(agent) == ids
        status = call(agent, "GET", "/api/status").json()
        assert status["node_count"] == status["online_count"] == 3
        assert status["in_cluster"] is True
        cluster_ids.add(status["cluster_id"])
        assert status["ram"]["total"] > 0
    assert len(cluster_ids) == 1


def test_remote_nodes_carry_their_telemetry(calm_trio: list[AgentProcess]) -> None:
    remote = calm_trio[2].info["node_id"]
    wait_until(
        lambda: call(calm_trio[0], "GET", f"/api/nodes/{remote}").json()["telemetry"],
        10,
        "telemetry from a remote node",
    )
    node = call(calm_trio[0], "GET", f"/api/nodes/{remote}").json()
    assert node["is_self"] is False
    assert node["telemetry"]["node_id"] == remote
    assert node["resources"]["ram_total"] > 0
    assert node["last_seen"] is not None


def test_killed_member_goes_offline_and_rejoins_after_restart(
    trio: list[AgentProcess],
) -> None:
    victim = trio[2]
    victim_id = victim.info["node_id"]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    for agent in trio[:2]:
        wait_until(
            lambda a=agent: state_of(a, victim_id) == "offline",
            10,
            "the killed member to be marked offline",
        )
        assert online_count(agent) == 2
    with agent_process(victim.home) as revived:
        assert revived.info["node_id"] == victim_id
        for agent in [*trio[:2], revived]:
            wait_until(
                lambda a=agent: online_count(a) == 3,
                15,
                "the restarted member to be online everywhere",
            )


def test_evicted_node_is_removed_everywhere(trio: list[AgentProcess]) -> None:
    evicted = trio[2]
    evicted_id = evicted.info["node_id"]
    response = call(trio[1], "DELETE", f"/api/nodes/{evicted_id}")
    assert response.status_code == 200, response.text
    for agent in trio[:2]:
        wait_until(lambda a=agent: evicted_id not in node_ids(a), 10, "eviction to propagate")
    wait_until(
        lambda: not call(evicted, "GET", "/api/status").json()["in_cluster"],
        10,
        "the evicted node to know it is alone",
    )
    status = call(evicted, "GET", "/api/status").json()
    assert status["cluster_id"] is None
    assert status["node_count"] == 1
    assert call(trio[0], "GET", f"/api/nodes/{evicted_id}").status_code == 404
    again = call(trio[0], "DELETE", f"/api/nodes/{evicted_id}")
    assert again.status_code == 404


def test_member_leaves_gracefully(trio: list[AgentProcess]) -> None:
    leaver = trio[1]
    leaver_id = leaver.info["node_id"]
    response = call(leaver, "POST", "/api/cluster/leave")
    assert response.status_code == 200, response.text
    assert call(leaver, "GET", "/api/status").json()["node_count"] == 1
    for agent in (trio[0], trio[2]):
        wait_until(lambda a=agent: leaver_id not in node_ids(a), 10, "the leave to propagate")
    again = call(leaver, "POST", "/api/cluster/leave")
    assert again.status_code == 409
    assert again.json()["error_code"] == "NOT_IN_CLUSTER"


def test_left_node_can_join_again_with_a_new_token(trio: list[AgentProcess]) -> None:
    leaver = trio[1]
    assert call(leaver, "POST", "/api/cluster/leave").status_code == 200
    wait_until(lambda: online_count(trio[0]) == 2, 10, "the leave to propagate")
    assert join(leaver, trio[0]).status_code == 200
    for agent in trio:
        wait_until(lambda a=agent: online_count(a) == 3, 15, "the rejoin to reach every node")


def test_evicting_yourself_is_refused(calm_trio: list[AgentProcess]) -> None:
    own_id = calm_trio[0].info["node_id"]
    response = call(calm_trio[0], "DELETE", f"/api/nodes/{own_id}")
    assert response.status_code == 409
    assert response.json()["error_code"] == "CANNOT_EVICT_SELF"
    assert online_count(calm_trio[0]) == 3
